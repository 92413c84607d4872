/**
 * The shared vocabulary of the auth modules: what a credential source yields, how expiry
 * timestamps are read and written back in their source's own style, and the start-up error.
 */
import { dirname } from "node:path";

/** How a login is refreshed (spec §5.4). */
export type AuthType = "kiro_desktop" | "aws_sso_oidc";

/** Where the gateway's Kiro login comes from. */
export type SourceKind = "kiro_cli_db" | "json_file" | "env_refresh_token";

/** What one read of a credential source yields; every field may be missing. */
export interface CredentialSnapshot {
  accessToken?: string;
  refreshToken?: string;
  /** Access token expiry in epoch milliseconds. */
  expiresAtMs?: number;
  /** The account's own profile ARN (file, token row or refresh answer). */
  profileArn?: string;
  /** The SSO region the credential names. */
  region?: string;
  clientId?: string;
  clientSecret?: string;
}

/** Credentials that cannot be used at start-up: one line per problem, printed by main.ts. */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
  readonly lines: string[];
  constructor(lines: string[], options?: ErrorOptions) {
    super(lines.join("\n"), options);
    this.lines = lines;
  }
}

/** Picks the refresh flow: AWS SSO OIDC when a client id and secret are known, else desktop. */
export function authTypeOf(snapshot: CredentialSnapshot): AuthType {
  return snapshot.clientId && snapshot.clientSecret ? "aws_sso_oidc" : "kiro_desktop";
}

const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Reads an expiry as epoch milliseconds: ISO 8601 with any number of fractional digits
 * (kiro-cli writes nanoseconds) and `Z`, an offset or none (taken as UTC), or epoch numbers.
 */
export function parseExpiry(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) {
    return value > 1e12 ? value : value * 1000;
  }
  if (typeof value !== "string") return undefined;
  const match = ISO_TIME.exec(value.trim());
  if (!match) return undefined;
  const [, base, fraction = "", zone = "Z"] = match;
  const millis = (fraction + "000").slice(0, 3);
  const ms = Date.parse(`${base}.${millis}${zone === "Z" ? "Z" : normalizeOffset(zone)}`);
  return Number.isNaN(ms) ? undefined : ms;
}

function normalizeOffset(zone: string): string {
  return zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

/**
 * Writes `ms` as an ISO timestamp in the style of `sample` (same number of fractional digits,
 * `Z` or `+00:00`); without a usable sample, in the Kiro IDE's style `2026-05-18T13:33:56.000Z`.
 */
export function formatExpiry(ms: number, sample?: unknown): string {
  const iso = new Date(ms).toISOString(); // 2026-05-18T13:33:56.789Z
  const base = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  let digits = 3;
  let zone = "Z";
  const match = typeof sample === "string" ? ISO_TIME.exec(sample.trim()) : null;
  if (match) {
    digits = match[2]?.length ?? 0;
    zone = match[3] === undefined || match[3] === "Z" ? "Z" : "+00:00";
  }
  const fraction = digits === 0 ? "" : `.${millis.padEnd(digits, "0").slice(0, digits)}`;
  return `${base}${fraction}${zone}`;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** The region inside a profile ARN (`arn:aws:codewhisperer:{region}:...`), when it looks valid. */
export function regionOfArn(arn: string | undefined): string | undefined {
  const region = arn?.split(":")[3];
  return region !== undefined && REGION.test(region) ? region : undefined;
}

/** Whether `value` looks like an AWS region name. */
export function isRegion(value: unknown): value is string {
  return typeof value === "string" && REGION.test(value);
}

/** Whether `err` means the process may not touch a path (Deno permission or the OS). */
export function isPermissionError(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}

/** The start-up line that names the flags to add when a credential path may not be read. */
export function permissionLine(path: string, folder: string): string {
  return `Cannot read "${path}": add --allow-read=${path} (and --allow-write=${folder} for token write-back)`;
}

/**
 * Turns a failure to open a credential file into a CredentialsError line: the flags to add
 * when permission is missing, "file not found", or the failure's own message.
 */
export function credentialAccessError(path: string, label: string, err: unknown): CredentialsError {
  if (isPermissionError(err)) {
    return new CredentialsError([permissionLine(path, dirname(path))], { cause: err });
  }
  const detail = err instanceof Deno.errors.NotFound ? "file not found" : (err as Error).message;
  return new CredentialsError([`Cannot read ${label} "${path}": ${detail}`], { cause: err });
}

/** Returns the string at `key` of a JSON object, or undefined when it is absent or not text. */
export function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** Parses JSON text that must be an object; returns undefined for anything else. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}
