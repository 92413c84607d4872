/**
 * Reading credentials from JSON files (the Kiro IDE token cache, AWS SSO cache files and the
 * enterprise client registration they point to) and knowing where to look for them (§5.1–5.2).
 */
import { dirname, join } from "node:path";
import type { Logger } from "../log.ts";
import {
  credentialAccessError,
  CredentialsError,
  type CredentialSnapshot,
  isPermissionError,
  isRegion,
  parseExpiry,
  parseJsonObject,
  permissionLine,
  stringField,
} from "./credentials.ts";

/** A standard place a login may live, with the kind of source found there. */
export interface CredentialCandidate {
  path: string;
  source: "json_file" | "kiro_cli_db";
}

/**
 * The standard credential locations under `homeDir`, in the order they are tried: the Kiro IDE
 * token cache, then the kiro-cli and Amazon Q databases (macOS folders first on macOS).
 */
export function CREDENTIAL_CANDIDATES(
  homeDir: string,
  platform: typeof Deno.build.os,
): CredentialCandidate[] {
  const json: CredentialCandidate = {
    path: join(homeDir, ".aws", "sso", "cache", "kiro-auth-token.json"),
    source: "json_file",
  };
  const db = (...parts: string[]): CredentialCandidate => ({
    path: join(homeDir, ...parts, "data.sqlite3"),
    source: "kiro_cli_db",
  });
  const xdg = [db(".local", "share", "kiro-cli"), db(".local", "share", "amazon-q")];
  if (platform !== "darwin") return [json, ...xdg];
  return [
    json,
    db("Library", "Application Support", "kiro-cli"),
    db("Library", "Application Support", "amazon-q"),
    ...xdg,
  ];
}

/** Replaces a leading `~` with `homeDir`. */
export function expandHome(path: string, homeDir: string | undefined): string {
  if (homeDir === undefined || !(path === "~" || path.startsWith("~/") || path.startsWith("~\\"))) {
    return path;
  }
  return join(homeDir, path.slice(1));
}

/** What a path on disk turned out to be. */
export type PathState = "file" | "missing" | "denied";

/** Checks a path without throwing: a file, nothing there, or not readable with our permissions. */
export async function statPath(path: string): Promise<PathState> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? "file" : "missing";
  } catch (err) {
    if (isPermissionError(err)) return "denied";
    return "missing";
  }
}

/** Options of readJsonCredentials. */
export interface ReadJsonOptions {
  /** Where `~/.aws/sso/cache/{clientIdHash}.json` is looked up. */
  homeDir?: string;
  /** How the path was configured, for messages (`KIRO_CREDS_FILE`). */
  label: string;
  logger: Logger;
}

/**
 * Reads a Kiro IDE or AWS SSO cache JSON file; an enterprise file's `clientIdHash` pulls the
 * client registration from the SSO cache folder. Throws CredentialsError when the file cannot
 * be read or holds no token.
 */
export async function readJsonCredentials(
  path: string,
  options: ReadJsonOptions,
): Promise<CredentialSnapshot> {
  const text = await readCredentialText(path, options.label);
  const obj = parseJsonObject(text);
  if (!obj) {
    throw new CredentialsError([`Cannot use ${options.label} "${path}": not a JSON object`]);
  }
  const snapshot: CredentialSnapshot = {
    accessToken: stringField(obj, "accessToken"),
    refreshToken: stringField(obj, "refreshToken"),
    expiresAtMs: parseExpiry(obj.expiresAt),
    profileArn: stringField(obj, "profileArn"),
    region: isRegion(obj.region) ? obj.region : undefined,
    clientId: stringField(obj, "clientId"),
    clientSecret: stringField(obj, "clientSecret"),
  };
  if (!snapshot.accessToken && !snapshot.refreshToken) {
    throw new CredentialsError([
      `Cannot use ${options.label} "${path}": it has neither accessToken nor refreshToken`,
      "Sign in with the Kiro IDE again, or point KIRO_CREDS_FILE at its kiro-auth-token.json",
    ]);
  }
  const hash = stringField(obj, "clientIdHash");
  if (hash && !(snapshot.clientId && snapshot.clientSecret)) {
    const registration = await readClientRegistration(path, hash, options);
    if (registration) {
      snapshot.clientId = registration.clientId;
      snapshot.clientSecret = registration.clientSecret;
      snapshot.region ??= registration.region;
    }
  }
  return snapshot;
}

interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  region?: string;
}

/**
 * Loads `{clientIdHash}.json` beside the token file, else from `~/.aws/sso/cache`. A missing,
 * invalid or incomplete registration is tolerated (the login then refreshes as desktop).
 */
async function readClientRegistration(
  tokenPath: string,
  hash: string,
  options: ReadJsonOptions,
): Promise<ClientRegistration | undefined> {
  if (!/^[A-Za-z0-9_-]+$/.test(hash)) {
    options.logger.warn("Ignoring clientIdHash: not a plain file name", { path: tokenPath });
    return undefined;
  }
  const folders = [dirname(tokenPath)];
  if (options.homeDir !== undefined) folders.push(join(options.homeDir, ".aws", "sso", "cache"));
  for (const folder of new Set(folders)) {
    const path = join(folder, `${hash}.json`);
    const state = await statPath(path);
    if (state === "denied") throw new CredentialsError([permissionLine(path, folder)]);
    if (state === "missing") continue;
    const obj = parseJsonObject(await readCredentialText(path, "client registration"));
    const clientId = obj && stringField(obj, "clientId");
    const clientSecret = obj && stringField(obj, "clientSecret");
    if (!obj || !clientId || !clientSecret) {
      options.logger.warn("Ignoring client registration: no clientId and clientSecret", { path });
      return undefined;
    }
    options.logger.debug("Loaded enterprise client registration", {
      path,
      clientId: `${clientId.slice(0, 8)}…`,
    });
    return { clientId, clientSecret, region: isRegion(obj.region) ? obj.region : undefined };
  }
  options.logger.warn("Enterprise client registration not found: refreshing as Kiro desktop", {
    clientIdHash: hash,
  });
  return undefined;
}

/** Reads a credential file's text, turning failures into CredentialsError lines. */
export async function readCredentialText(path: string, label: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw credentialAccessError(path, label, err);
  }
}
