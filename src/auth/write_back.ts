/**
 * Saving refreshed tokens where they came from (spec §5.11): JSON files are replaced atomically
 * keeping every other key and their own formats; database rows are merged in place. A denied
 * or read-only target turns write-back off with one log line.
 */
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log.ts";
import { formatExpiry, isPermissionError, parseJsonObject } from "./credentials.ts";
import { writeCliDatabaseToken } from "./sqlite.ts";

/** Token values to save after a refresh. */
export interface TokenUpdate {
  accessToken: string;
  refreshToken?: string;
  expiresAtMs: number;
  /** The account's own profile ARN, when known. */
  profileArn?: string;
  /** The SSO region (database rows store it). */
  region: string;
  /** The auth_kv row the token was loaded from (database targets). */
  tokenKey?: string;
}

/** Where refreshed tokens go. */
export type WriteTarget =
  | { kind: "json_file"; path: string }
  | { kind: "kiro_cli_db"; path: string; readonly: boolean }
  | { kind: "memory" };

/** Thrown when the target may not be written: permissions, a read-only file or database. */
class WriteDeniedError extends Error {
  override readonly name = "WriteDeniedError";
}

/** Saves refreshed tokens to their source; never throws, logs what it could not do. */
export class CredentialWriter {
  #target: WriteTarget;
  #logger: Logger;
  #disabled = false;

  constructor(target: WriteTarget, logger: Logger) {
    this.#target = target;
    this.#logger = logger;
  }

  /** Writes `update` to the target, unless write-back is off for it. */
  async write(update: TokenUpdate): Promise<void> {
    const target = this.#target;
    if (target.kind === "memory" || this.#disabled) return;
    if (target.kind === "kiro_cli_db" && target.readonly) {
      this.#disable("SQLITE_READONLY is set: refreshed tokens stay in memory", target.path);
      return;
    }
    try {
      if (isReadOnlyFile(target.path)) throw new WriteDeniedError("the file is read-only");
      if (target.kind === "json_file") {
        await writeJsonCredentials(target.path, update, { logger: this.#logger });
      } else {
        const key = writeCliDatabaseToken(target.path, {
          ...update,
          tokenKey: update.tokenKey ?? "",
        });
        if (key === undefined) {
          this.#logger.warn("Token not written back: the database has no token row to update", {
            path: target.path,
          });
          return;
        }
      }
      this.#logger.debug("Wrote refreshed token back", { path: target.path });
    } catch (err) {
      if (isWriteDenied(err)) {
        this.#disable(
          `Cannot write refreshed tokens back (${
            (err as Error).message
          }): they stay in memory; grant write access to keep them across restarts`,
          target.path,
        );
        return;
      }
      this.#logger.warn("Token not written back", {
        path: target.path,
        error: (err as Error).message,
      });
    }
  }

  #disable(message: string, path: string): void {
    this.#disabled = true;
    this.#logger.warn(message, { path });
  }
}

function isReadOnlyFile(path: string): boolean {
  const mode = Deno.statSync(path).mode;
  return mode !== null && (mode & 0o222) === 0;
}

function isWriteDenied(err: unknown): boolean {
  if (err instanceof WriteDeniedError || isPermissionError(err)) return true;
  const code = (err as { code?: unknown; errcode?: unknown }).code;
  const sqliteCode = (err as { errcode?: unknown }).errcode;
  return code === "EROFS" || code === "EACCES" || code === "EPERM" || sqliteCode === 8;
}

/**
 * Temporary files younger than this may belong to a write in progress (another gateway using
 * the same file); older ones were left by a process that died between writing and renaming.
 */
export const STALE_TEMP_FILE_MS = 60_000;

/** The temporary file name writeJsonCredentials uses beside `path`. */
function tempFileName(path: string, id: string): string {
  return `.${basename(path)}.${id}.tmp`;
}

/**
 * Removes the temporary files writeJsonCredentials left beside the credential file at `path`
 * when the process was killed mid-write (older than STALE_TEMP_FILE_MS by the file clock).
 * Only names of its own pattern are touched; never throws. Returns how many were removed.
 */
export async function removeStaleTempFiles(
  path: string,
  options: { logger: Logger; nowMs?: number },
): Promise<number> {
  const prefix = tempFileName(path, "").slice(0, -".tmp".length);
  const ownName = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;
  const nowMs = options.nowMs ?? Date.now();
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dirname(path))) {
      const rest = entry.name.startsWith(prefix) ? entry.name.slice(prefix.length) : "";
      if (!entry.isFile || !ownName.test(rest)) continue;
      const temp = join(dirname(path), entry.name);
      const modified = (await Deno.stat(temp)).mtime?.getTime() ?? 0;
      if (nowMs - modified < STALE_TEMP_FILE_MS) continue;
      await Deno.remove(temp);
      removed++;
    }
  } catch (err) {
    options.logger.debug("Cannot clean up temporary token files", {
      path,
      error: (err as Error).message,
    });
  }
  if (removed > 0) {
    options.logger.info("Removed temporary token files an interrupted write-back left", {
      path,
      removed,
    });
  }
  return removed;
}

/**
 * Merges `update` into the JSON file at `path` and replaces the file atomically (temporary file
 * in the same folder, then rename), keeping unknown keys, the expiry format and the file mode.
 * Falls back to an in-place write when only the file itself may be written.
 */
export async function writeJsonCredentials(
  path: string,
  update: TokenUpdate,
  options: { logger: Logger },
): Promise<void> {
  const original = await Deno.readTextFile(path);
  const old = parseJsonObject(original);
  if (!old) throw new Error("the file no longer holds a JSON object");
  const merged: Record<string, unknown> = {
    ...old,
    accessToken: update.accessToken,
    expiresAt: formatExpiry(update.expiresAtMs, old.expiresAt),
  };
  if (update.refreshToken !== undefined) merged.refreshToken = update.refreshToken;
  if (update.profileArn !== undefined) merged.profileArn = update.profileArn;
  const text = JSON.stringify(merged, null, 2) + (original.endsWith("\n") ? "\n" : "");
  const mode = (await Deno.stat(path)).mode ?? undefined;
  const temp = join(dirname(path), tempFileName(path, crypto.randomUUID()));
  try {
    await Deno.writeTextFile(temp, text, { createNew: true, mode: mode ?? 0o600 });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
    options.logger.debug("No write access to the folder: writing the token file in place", {
      path,
    });
    await Deno.writeTextFile(path, text);
    return;
  }
  try {
    if (mode !== undefined && Deno.build.os !== "windows") await Deno.chmod(temp, mode & 0o777);
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}
