/**
 * The kiro-cli (and older Amazon Q CLI) database through node:sqlite (spec §5.3, §5.11): the
 * token row, the device registration, the selected profile, and the token write-back.
 */
import { DatabaseSync } from "node:sqlite";
import {
  credentialAccessError,
  CredentialsError,
  type CredentialSnapshot,
  formatExpiry,
  isRegion,
  parseExpiry,
  parseJsonObject,
  stringField,
} from "./credentials.ts";

/** auth_kv keys of a login, first found wins. */
export const TOKEN_KEYS = [
  "kirocli:social:token",
  "kirocli:odic:token",
  "codewhisperer:odic:token",
] as const;

/** The enterprise external IdP login, whose refresh flow the gateway does not support yet. */
const EXTERNAL_IDP_KEY = "kirocli:external-idp:token";

const REGISTRATION_KEYS = [
  "kirocli:odic:device-registration",
  "codewhisperer:odic:device-registration",
] as const;

const PROFILE_STATE_KEY = "api.codewhisperer.profile";

/** How long a statement waits for kiro-cli to release a lock. */
export const BUSY_TIMEOUT_MS = 5000;

/** A login read from the database, with the row it came from. */
export interface CliDatabaseLogin {
  snapshot: CredentialSnapshot;
  /** The auth_kv key the token was read from; write-back updates this row. */
  tokenKey: string;
  /** The profile selected in kiro-cli (`state` table), when there is one. */
  stateProfileArn?: string;
}

/**
 * Reads the login from a kiro-cli database opened read-only. Throws CredentialsError when the
 * file cannot be opened, is not a kiro-cli database, or holds no login.
 */
export function readCliDatabase(path: string, label: string): CliDatabaseLogin {
  let db: DatabaseSync;
  try {
    Deno.statSync(path); // opening a missing path would create it
    db = new DatabaseSync(path, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw credentialAccessError(path, label, err);
  }
  try {
    let found: { key: string; value: Record<string, unknown> } | undefined;
    for (const key of TOKEN_KEYS) {
      const value = readJsonValue(db, "auth_kv", key);
      if (value) {
        found = { key, value };
        break;
      }
    }
    if (!found) {
      const external = readJsonValue(db, "auth_kv", EXTERNAL_IDP_KEY) !== undefined;
      throw new CredentialsError([
        external
          ? `Cannot use ${label} "${path}": external identity provider logins are not supported yet`
          : `Cannot use ${label} "${path}": no kiro-cli login found (keys tried: ${
            TOKEN_KEYS.join(", ")
          })`,
        "Run `kiro-cli login` (social or AWS Builder ID / IAM Identity Center) and start again",
      ]);
    }
    const row = found.value;
    const snapshot: CredentialSnapshot = {
      accessToken: stringField(row, "access_token"),
      refreshToken: stringField(row, "refresh_token"),
      expiresAtMs: parseExpiry(row.expires_at),
      profileArn: stringField(row, "profile_arn"),
      region: isRegion(row.region) ? row.region : undefined,
    };
    for (const key of REGISTRATION_KEYS) {
      const registration = readJsonValue(db, "auth_kv", key);
      if (!registration) continue;
      snapshot.clientId = stringField(registration, "client_id");
      snapshot.clientSecret = stringField(registration, "client_secret");
      if (snapshot.region === undefined && isRegion(registration.region)) {
        snapshot.region = registration.region;
      }
      break;
    }
    return { snapshot, tokenKey: found.key, stateProfileArn: readStateProfileArn(db) };
  } catch (err) {
    if (err instanceof CredentialsError) throw err;
    throw new CredentialsError([
      `Cannot use ${label} "${path}": not a kiro-cli database (${(err as Error).message})`,
    ], { cause: err });
  } finally {
    db.close();
  }
}

/** Reads a JSON object value; a missing row or invalid JSON gives undefined. */
function readJsonValue(
  db: DatabaseSync,
  table: "auth_kv" | "state",
  key: string,
): Record<string, unknown> | undefined {
  const row = db.prepare(`SELECT value FROM ${table} WHERE key = ?`).get(key);
  const value = row?.value;
  if (typeof value === "string") return parseJsonObject(value);
  if (value instanceof Uint8Array) return parseJsonObject(new TextDecoder().decode(value));
  return undefined;
}

/** The state table is optional and its read errors are ignored (§5.3). */
function readStateProfileArn(db: DatabaseSync): string | undefined {
  try {
    const value = readJsonValue(db, "state", PROFILE_STATE_KEY);
    return value ? stringField(value, "arn") : undefined;
  } catch {
    return undefined;
  }
}

/** New token values to merge into a token row. */
export interface TokenRowUpdate {
  /** The row the token was loaded from; tried first. */
  tokenKey: string;
  accessToken: string;
  refreshToken?: string;
  expiresAtMs: number;
  /** The SSO region. */
  region: string;
  profileArn?: string;
}

/**
 * Merges `update` into the token row at `update.tokenKey` (else the first token row that exists),
 * keeping every other key and the row's expiry format. Rows are never inserted. Returns the
 * key written, or undefined when the database holds no token row. Throws on SQLite errors.
 */
export function writeCliDatabaseToken(path: string, update: TokenRowUpdate): string | undefined {
  Deno.statSync(path); // never create a database
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.exec("BEGIN IMMEDIATE");
    try {
      const keys = [update.tokenKey, ...TOKEN_KEYS.filter((key) => key !== update.tokenKey)];
      for (const key of keys) {
        const row = db.prepare("SELECT value FROM auth_kv WHERE key = ?").get(key);
        if (typeof row?.value !== "string") continue;
        const old = parseJsonObject(row.value) ?? {};
        const merged: Record<string, unknown> = {
          ...old,
          access_token: update.accessToken,
          refresh_token: update.refreshToken ?? old.refresh_token,
          expires_at: formatExpiry(update.expiresAtMs, old.expires_at),
          region: update.region,
        };
        if (update.profileArn !== undefined) merged.profile_arn = update.profileArn;
        db.prepare("UPDATE auth_kv SET value = ? WHERE key = ?").run(JSON.stringify(merged), key);
        db.exec("COMMIT");
        return key;
      }
      db.exec("COMMIT");
      return undefined;
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}
