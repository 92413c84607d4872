/**
 * The gateway's sandbox: which files it may touch, checked before start-up so a path outside
 * the granted set gives one line naming the flag to add, and summarized in one start-up line.
 */
import { dirname } from "node:path";
import { CREDENTIAL_CANDIDATES, expandHome } from "./auth/sources.ts";
import { type Config, ENV_VARS } from "./config.ts";

/** Variables read besides ENV_VARS: the home folder and the proxy settings. */
export const EXTRA_ENV_VARS = [
  "HOME",
  "USERPROFILE",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
] as const;

/** Every variable name in the `--allow-env` list of the tasks and binaries. */
export const ALLOWED_ENV_VARS: readonly string[] = [...ENV_VARS, ...EXTRA_ENV_VARS];

/** The variable `deno task start` splices into its flags to grant extra paths. */
export const EXTRA_FLAGS_VAR = "KIRO_GATEWAY_FLAGS";

/** How a path is used: read only, or read and written. */
export type PathAccess = "read" | "readwrite";

/** A file or folder the gateway uses, with why and how. */
export interface GatewayPath {
  path: string;
  access: PathAccess;
  /** What the path is for (`.env`, `KIRO_CREDS_FILE`, `DEBUG_DIR`, `STATE_DIR`, `credentials`). */
  purpose: string;
  /** Whether the user configured the path (a refusal is then fatal) or it is a standard place. */
  configured: boolean;
}

/** Answers whether a permission is granted; injectable for tests. */
export type PermissionQuery = (
  name: "read" | "write",
  path: string,
) => Deno.PermissionState;

/** Queries Deno's permission state without prompting. */
export function queryPermission(name: "read" | "write", path: string): Deno.PermissionState {
  return Deno.permissions.querySync({ name, path }).state;
}

/** Options of gatewayPaths. */
export interface GatewayPathOptions {
  homeDir?: string;
  platform: typeof Deno.build.os;
}

/**
 * The paths the gateway will use with this configuration: `.env`, the configured credential
 * files, DEBUG_DIR when capture is on, STATE_DIR, and the standard credential folders.
 */
export function gatewayPaths(config: Readonly<Config>, options: GatewayPathOptions): GatewayPath[] {
  const paths: GatewayPath[] = [
    { path: config.envFile, access: "read", purpose: ".env", configured: false },
  ];
  if (config.demo) return paths;
  if (config.cliDbFile !== undefined) {
    paths.push({
      path: expandHome(config.cliDbFile, options.homeDir),
      access: config.sqliteReadonly ? "read" : "readwrite",
      purpose: "KIRO_CLI_DB_FILE",
      configured: true,
    });
  }
  if (config.credsFile !== undefined) {
    paths.push({
      path: expandHome(config.credsFile, options.homeDir),
      access: "readwrite",
      purpose: "KIRO_CREDS_FILE",
      configured: true,
    });
  }
  if (config.accountsFile !== undefined) {
    // The credential files it names are checked when they are read (main.ts names the flag).
    paths.push({
      path: expandHome(config.accountsFile, options.homeDir),
      access: "read",
      purpose: "KIRO_ACCOUNTS_FILE",
      configured: true,
    });
  }
  if (config.debugMode !== "off") {
    paths.push({
      path: config.debugDir,
      access: "readwrite",
      purpose: "DEBUG_DIR",
      configured: true,
    });
  }
  paths.push({
    path: config.stateDir,
    access: "readwrite",
    purpose: "STATE_DIR",
    configured: true,
  });
  if (options.homeDir !== undefined) {
    const folders = new Set(
      CREDENTIAL_CANDIDATES(options.homeDir, options.platform).map((c) => dirname(c.path)),
    );
    for (const folder of folders) {
      paths.push({ path: folder, access: "readwrite", purpose: "credentials", configured: false });
    }
  }
  return paths;
}

/** Folders the gateway writes inside, as opposed to files written through their folder. */
const WRITABLE_FOLDERS = new Set(["DEBUG_DIR", "STATE_DIR"]);

function writablePath(entry: GatewayPath): string {
  return WRITABLE_FOLDERS.has(entry.purpose) ? entry.path : dirname(entry.path);
}

/** The flags that grant `entry`: read on the path, write on the file's folder (token write-back). */
export function flagsFor(entry: GatewayPath): string[] {
  const flags = [`--allow-read=${entry.path}`];
  if (entry.access === "readwrite") flags.push(`--allow-write=${writablePath(entry)}`);
  return flags;
}

function isGranted(entry: GatewayPath, query: PermissionQuery): boolean {
  if (query("read", entry.path) !== "granted") return false;
  if (entry.access === "read") return true;
  return query("write", writablePath(entry)) === "granted";
}

/** Options of deniedPathLines. */
export interface DeniedPathOptions {
  query?: PermissionQuery;
  /** Whether this is a compiled binary (its permissions were fixed when it was built). */
  standalone?: boolean;
}

/**
 * One line per configured path the sandbox does not grant, naming the flags to add; empty
 * when everything configured is reachable. Standard credential folders are not checked here:
 * discovery skips what it may not read.
 */
export function deniedPathLines(paths: GatewayPath[], options: DeniedPathOptions = {}): string[] {
  const query = options.query ?? queryPermission;
  const lines: string[] = [];
  for (const entry of paths) {
    if (!entry.configured || isGranted(entry, query)) continue;
    const flags = flagsFor(entry).join(" ");
    const how = options.standalone
      ? "the prebuilt binary may only use .env, debug_logs and files under the home folders: move it there, or run from source with those flags"
      : `for example ${EXTRA_FLAGS_VAR}="${flags}" deno task start`;
    lines.push(
      `Permission denied: ${entry.purpose} "${entry.path}" is outside the allowed paths: add ${flags} (${how})`,
    );
  }
  return lines;
}

/** One start-up line saying what the gateway may read and write, for the log. */
export function describePermissions(
  paths: GatewayPath[],
  query: PermissionQuery = queryPermission,
): string {
  const readWrite: string[] = [];
  const readOnly: string[] = [];
  const refused: string[] = [];
  for (const entry of paths) {
    const shown = entry.path;
    if (query("read", entry.path) !== "granted") refused.push(shown);
    else if (query("write", entry.path) === "granted") readWrite.push(shown);
    else readOnly.push(shown);
  }
  const parts = [
    `read ${readOnly.length > 0 ? readOnly.join(", ") : "nothing else"}`,
    `read/write ${readWrite.length > 0 ? readWrite.join(", ") : "nothing"}`,
  ];
  if (refused.length > 0) parts.push(`not allowed ${refused.join(", ")}`);
  return `File access: ${parts.join("; ")}; network any host; environment by name only`;
}
