/**
 * KIRO_ACCOUNTS_FILE (spec §9.6): a JSON array in the reference gateway's `credentials.json`
 * format. Entries are `{"type": "json" | "sqlite", "path"}` or
 * `{"type": "refresh_token", "refresh_token"}`, each with optional `name`, `enabled`,
 * `profile_arn`, `region` and `api_region`; a `path` that is a folder adds every valid
 * credential file in it. Any problem stops start-up with one line naming the entry.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { CredentialsError, isRegion, parseJsonObject } from "../auth/credentials.ts";
import { expandHome } from "../auth/sources.ts";

/** Where an account's login comes from. */
export type AccountKind = "json" | "sqlite" | "refresh_token";

/** One account of the pool, as configured. */
export interface AccountEntry {
  /**
   * The account's identity in the state store, the same on every instance: its name, else a
   * hash of its refresh token or of its credential file's absolute path.
   */
  id: string;
  /** What /health shows: the name, else the id (never a path or a token). */
  name: string;
  kind: AccountKind;
  /** The credential file (json, sqlite), absolute. */
  path?: string;
  /** The refresh token (refresh_token entries); kept in memory only. */
  refreshToken?: string;
  enabled: boolean;
  profileArn?: string;
  region?: string;
  apiRegion?: string;
}

/** Options of loadAccountEntries. */
export interface LoadAccountsOptions {
  homeDir?: string;
}

const KINDS: readonly AccountKind[] = ["json", "sqlite", "refresh_token"];
const KNOWN_FIELDS = new Set([
  "type",
  "path",
  "refresh_token",
  "name",
  "enabled",
  "profile_arn",
  "region",
  "api_region",
]);
const ARN = /^arn:aws:codewhisperer:[a-z0-9-]+:\d+:profile\/[A-Za-z0-9._-]+$/;

/** A short stable id from `text`: `prefix-` and 12 hex of its SHA-256. */
function shortHash(prefix: string, text: string): string {
  return `${prefix}-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}

/**
 * Reads and checks the accounts file. Throws a one-line CredentialsError naming the file, the
 * entry (by position and name) and the problem; main.ts prints it and exits with code 2.
 */
export async function loadAccountEntries(
  file: string,
  options: LoadAccountsOptions = {},
): Promise<AccountEntry[]> {
  const path = expandHome(file, options.homeDir);
  const fail = (problem: string): never => {
    throw new CredentialsError([`Cannot use KIRO_ACCOUNTS_FILE "${path}": ${problem}`]);
  };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) fail("file not found");
    throw err; // a permission error: main.ts names the flag to add
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text!);
  } catch (err) {
    fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) fail("expected a JSON array of account entries");
  const list = raw as unknown[];
  if (list.length === 0) fail("the array has no entries");
  const entries: AccountEntry[] = [];
  for (const [index, item] of list.entries()) {
    const where = (item as { name?: unknown })?.name;
    const label = `entry ${index + 1}${typeof where === "string" ? ` ("${where}")` : ""}`;
    const entryFail = (problem: string): never => fail(`${label}: ${problem}`);
    entries.push(...await parseEntry(item, { homeDir: options.homeDir, fail: entryFail }));
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.id)) {
      fail(`two entries are the same account "${entry.name}": give each a distinct name`);
    }
    seen.add(entry.id);
  }
  if (!entries.some((e) => e.enabled)) fail("no entry is enabled");
  return entries;
}

interface ParseContext {
  homeDir?: string;
  fail: (problem: string) => never;
}

async function parseEntry(item: unknown, ctx: ParseContext): Promise<AccountEntry[]> {
  const { fail } = ctx;
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    fail("expected an object");
  }
  const obj = item as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!KNOWN_FIELDS.has(key)) fail(`unknown field "${key}"`);
  }
  const kind = obj.type;
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
    fail(`"type" must be one of ${KINDS.join(", ")}`);
  }
  const name = optionalString(obj, "name", fail);
  if (name !== undefined && !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
    fail(`"name" must be 1 to 64 letters, digits or . _ @ -`);
  }
  if (obj.enabled !== undefined && typeof obj.enabled !== "boolean") {
    fail(`"enabled" must be true or false`);
  }
  const profileArn = optionalString(obj, "profile_arn", fail);
  if (profileArn !== undefined && !ARN.test(profileArn)) {
    fail(`"profile_arn" must look like arn:aws:codewhisperer:<region>:<account>:profile/<id>`);
  }
  const region = optionalString(obj, "region", fail);
  const apiRegion = optionalString(obj, "api_region", fail);
  for (const [field, value] of [["region", region], ["api_region", apiRegion]] as const) {
    if (value !== undefined && !isRegion(value)) {
      fail(`"${field}" must be an AWS region such as us-east-1`);
    }
  }
  const base = {
    kind: kind as AccountKind,
    enabled: obj.enabled !== false,
    profileArn,
    region,
    apiRegion,
  };
  if (kind === "refresh_token") {
    const token = optionalString(obj, "refresh_token", fail);
    if (token === undefined) fail(`"refresh_token" is required for type refresh_token`);
    const id = name ?? shortHash("rt", token!);
    return [{ ...base, id, name: name ?? id, refreshToken: token }];
  }
  const rawPath = optionalString(obj, "path", fail);
  if (rawPath === undefined) fail(`"path" is required for type ${kind}`);
  const path = resolve(expandHome(rawPath!, ctx.homeDir));
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) fail(`"${path}" not found`);
    throw err;
  }
  if (info!.isFile) {
    const problem = await credentialProblem(path, kind as "json" | "sqlite");
    if (problem !== undefined) fail(`"${path}" ${problem}`);
    const id = name ?? shortHash("file", path);
    return [{ ...base, id, name: name ?? id, path }];
  }
  const files: string[] = [];
  for await (const child of Deno.readDir(path)) {
    if (child.isFile) files.push(join(path, child.name));
  }
  files.sort();
  const found: AccountEntry[] = [];
  for (const file of files) {
    if (kind === "json" && !file.endsWith(".json")) continue;
    if (await credentialProblem(file, kind as "json" | "sqlite") !== undefined) continue;
    const fileName = file.slice(path.length + 1);
    const id = name ? `${name}.${fileName.replace(/[^A-Za-z0-9._@-]/g, "_")}` : shortHash(
      "file",
      file,
    );
    found.push({ ...base, id, name: id, path: file });
  }
  if (found.length === 0) fail(`the folder "${path}" holds no valid ${kind} credential file`);
  return found;
}

function optionalString(
  obj: Record<string, unknown>,
  key: string,
  fail: (problem: string) => never,
): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.trim() === "") fail(`"${key}" must be a non-empty string`);
  return (value as string).trim();
}

/**
 * Why `path` is not a credential file of `kind` (spec §5.2/§5.3 folder rules): a JSON object
 * with `refreshToken` or `clientId`, or an SQLite database with an `auth_kv` table.
 */
async function credentialProblem(
  path: string,
  kind: "json" | "sqlite",
): Promise<string | undefined> {
  if (kind === "json") {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
        throw err;
      }
      return `cannot be read: ${(err as Error).message}`;
    }
    const obj = parseJsonObject(text);
    if (obj === undefined) return "is not a JSON object";
    if (typeof obj.refreshToken !== "string" && typeof obj.clientId !== "string") {
      return "has no refreshToken (or clientId)";
    }
    return undefined;
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const row = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'auth_kv'",
    )
      .get();
    return row === undefined ? "is not a kiro-cli database (no auth_kv table)" : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw err;
    }
    return "is not an SQLite database";
  } finally {
    db?.close();
  }
}

/**
 * A fingerprint of an account's credential source, for "dead until its source changes": the
 * file's modification time and size, or a hash of the refresh token.
 */
export async function sourceStamp(entry: AccountEntry): Promise<string> {
  if (entry.path === undefined) return shortHash("rt", entry.refreshToken ?? "");
  try {
    const info = await Deno.stat(entry.path);
    return `${info.mtime?.getTime() ?? 0}:${info.size}`;
  } catch {
    return "missing";
  }
}
