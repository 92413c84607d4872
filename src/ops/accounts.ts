/**
 * What the operator views (metrics, /status.json, /status) show about each Kiro account: a
 * read-only snapshot without secrets. With one credential source it is one account named
 * `default`, derived from the token source's status.
 */
import type { CredentialStatus } from "../auth/token_source.ts";

/** One account as the operator views show it; holds no token. */
export interface AccountSnapshot {
  /** A name chosen by the operator (`default` for the single credential source). */
  name: string;
  /** Whether requests can be sent with this account now. */
  up: boolean;
  /** A short state word: `ok`, `expired`, `refresh_failed`, `cooling_down`, `disabled`. */
  state: string;
  /** When the access token expires, as an ISO 8601 string. */
  tokenExpiresAt?: string;
  /** Credits left this month, when known. */
  creditsLeft?: number;
  /** The last error seen for this account, without secrets. */
  lastError?: string;
}

/** Returns the accounts to show, read when a view renders. */
export type AccountsView = () => AccountSnapshot[];

/** The name of the single credential source's account. */
export const DEFAULT_ACCOUNT = "default";

/**
 * The single credential source as one account. It is up while its token is valid or can be
 * refreshed: a failed refresh with an expired token means no request can succeed.
 */
export function singleAccount(status: CredentialStatus, nowMs: number): AccountSnapshot {
  const expiresAtMs = status.expiresAt === undefined ? undefined : Date.parse(status.expiresAt);
  const expired = expiresAtMs !== undefined && expiresAtMs <= nowMs;
  const state = status.lastError !== undefined
    ? (expired || expiresAtMs === undefined ? "refresh_failed" : "ok")
    : expired
    ? "expired"
    : "ok";
  const snapshot: AccountSnapshot = {
    name: DEFAULT_ACCOUNT,
    up: state !== "refresh_failed",
    state,
  };
  if (status.expiresAt !== undefined) snapshot.tokenExpiresAt = status.expiresAt;
  if (status.lastError !== undefined) snapshot.lastError = status.lastError;
  return snapshot;
}
