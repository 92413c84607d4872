/**
 * What the operator views (metrics, /status.json, /status) show about each Kiro account: a
 * read-only snapshot without secrets, in the shape of the account pool's snapshot (the pool
 * satisfies AccountsView as it is). With one credential source and no pool, it is one account
 * named `default`, derived from the token source's status.
 */
import type { CredentialStatus } from "../auth/token_source.ts";

/** One account as the operator views show it; holds no token and no path. */
export interface AccountSnapshot {
  /** A name chosen by the operator (`default` for the single credential source). */
  name: string;
  /** `ok` when it can serve requests; else why not (`cooling`, `dead`, `suspended`, ...). */
  status: string;
  /** When the access token expires (ISO 8601), when known. */
  tokenExpiresAt?: string;
  /** Credit left this period, when known. */
  creditLeft?: number;
  /** Why it last failed, while it is not ok. */
  reason?: string;
  /** When its cool-down ends (ISO 8601), while cooling. */
  cooldownUntil?: string;
  /** Requests it is serving now. */
  inFlight?: number;
  /** Requests it has served. */
  requests?: number;
}

/** Where the operator views read the accounts from, each time they render. */
export interface AccountsView {
  snapshot(): Promise<AccountSnapshot[]>;
}

/** The name of the single credential source's account. */
export const DEFAULT_ACCOUNT = "default";

/** Whether the account can serve requests now. */
export function isAccountUp(account: AccountSnapshot): boolean {
  return account.status === "ok";
}

/** The health word of a set of accounts: all enabled ones up, none, or some. */
export function accountsHealth(accounts: AccountSnapshot[]): "healthy" | "degraded" | "down" {
  const enabled = accounts.filter((account) => account.status !== "disabled");
  const up = enabled.filter(isAccountUp).length;
  if (up === enabled.length) return "healthy";
  return up === 0 ? "down" : "degraded";
}

/** Options of singleAccountView. */
export interface SingleAccountViewOptions {
  /** The clock in epoch milliseconds. */
  now: () => number;
  /** The pool of this one login, for the figures it keeps: credit left, requests, in flight. */
  pool?: AccountsView;
}

/**
 * The single credential source as a view of one account: whether it can serve and its expiry
 * come from its token state (a pool of one is never held back by its stored health, so that
 * health is not shown), its credit left and request counts from the pool when there is one.
 */
export function singleAccountView(
  tokens: { status(): CredentialStatus },
  options: SingleAccountViewOptions,
): AccountsView {
  return {
    async snapshot() {
      const account = singleAccount(tokens.status(), options.now());
      const [pooled] = options.pool ? await options.pool.snapshot() : [];
      if (pooled?.creditLeft !== undefined) account.creditLeft = pooled.creditLeft;
      if (pooled?.inFlight !== undefined) account.inFlight = pooled.inFlight;
      if (pooled?.requests !== undefined) account.requests = pooled.requests;
      return [account];
    },
  };
}

/**
 * The single credential source as one account. It is `ok` while its token is valid or can be
 * refreshed, and `dead` once a refresh failed and no valid token is left.
 */
export function singleAccount(status: CredentialStatus, nowMs: number): AccountSnapshot {
  const expiresAtMs = status.expiresAt === undefined ? undefined : Date.parse(status.expiresAt);
  const valid = expiresAtMs !== undefined && expiresAtMs > nowMs;
  const dead = status.lastError !== undefined && !valid;
  const snapshot: AccountSnapshot = { name: DEFAULT_ACCOUNT, status: dead ? "dead" : "ok" };
  if (status.expiresAt !== undefined) snapshot.tokenExpiresAt = status.expiresAt;
  if (dead) snapshot.reason = status.lastError;
  return snapshot;
}
