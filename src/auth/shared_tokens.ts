/**
 * The seam through which an account's token refresh is coordinated beyond this process
 * (spec §9.6: refresh tokens rotate on use, so holders of one account must share its refresh).
 *
 * A TokenSource given a SharedTokens:
 * - takes `lock()` before it calls the refresh endpoint, so one holder refreshes at a time
 *   (the lock expires by itself if that holder dies);
 * - while another holder has the lock, polls `read()` (and its own credential source) until a
 *   newer token appears or the lock is free;
 * - before refreshing, and after a 403, prefers a newer pair from `read()` to its own copy;
 * - after a refresh, `publish()`es the new pair.
 *
 * With a local state backend (memory, SQLite) only the lock goes through the store: tokens are
 * never written to the state file (the credential source keeps them, and a second process on
 * the same STATE_DIR re-reads that source). With a shared backend (Redis, which encrypts
 * values) the pair is published too, so another instance picks up a rotated token.
 */
import type { StateStore } from "../state/state.ts";

/** An account's current tokens, as published to other holders. */
export interface TokenPair {
  accessToken: string;
  refreshToken?: string;
  /** Access token expiry in epoch milliseconds. */
  expiresAtMs?: number;
  profileArn?: string;
}

/** Releases a lock taken with SharedTokens.lock. */
export type ReleaseLock = () => Promise<void>;

/** One account's refresh lock and published tokens; see the module comment. */
export interface SharedTokens {
  /** The newest pair published for the account, or undefined. */
  read(): Promise<TokenPair | undefined>;
  /** Publishes the pair this holder just got from a refresh. */
  publish(pair: TokenPair): Promise<void>;
  /** Takes the account's refresh lock for `ttlMs`: a release function, or undefined if held. */
  lock(ttlMs: number): Promise<ReleaseLock | undefined>;
}

/** Options of stateSharedTokens. */
export interface StateSharedTokensOptions {
  /** Publish and read tokens through the store (only for shared, encrypted backends). */
  publishTokens: boolean;
}

/** The store key of an account's published tokens. */
export function tokensKey(accountId: string): string {
  return `account:${accountId}:tokens`;
}

/** The store key of an account's refresh lock. */
export function refreshLockKey(accountId: string): string {
  return `account:${accountId}:refresh-lock`;
}

/** SharedTokens backed by a StateStore, for the account `accountId`. */
export function stateSharedTokens(
  state: StateStore,
  accountId: string,
  options: StateSharedTokensOptions,
): SharedTokens {
  return {
    async read() {
      if (!options.publishTokens) return undefined;
      const raw = await state.get(tokensKey(accountId));
      if (raw === undefined) return undefined;
      try {
        const pair = JSON.parse(raw) as TokenPair;
        return typeof pair.accessToken === "string" ? pair : undefined;
      } catch {
        return undefined;
      }
    },
    async publish(pair) {
      if (!options.publishTokens) return;
      await state.set(tokensKey(accountId), JSON.stringify(pair));
    },
    async lock(ttlMs) {
      const key = refreshLockKey(accountId);
      const token = await state.tryLock(key, ttlMs);
      return token === undefined ? undefined : () => state.unlock(key, token);
    },
  };
}
