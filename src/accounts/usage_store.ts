/**
 * Each account's credit as stored under `account:<id>:usage` (spec §9.5): read for /health,
 * the status page, GET /v1/usage and the choice of account, fetched again from GetUsageLimits
 * once stale, one fetch at a time per account across every instance sharing the store.
 */
import { parseJsonObject } from "../auth/credentials.ts";
import type { Logger } from "../log.ts";
import type { StateStore } from "../state/state.ts";
import type { AccountEntry } from "./entries.ts";
import { USAGE_CACHE_MS, type UsageSummary } from "./usage.ts";

/** How long one usage fetch may hold its account's usage lock. */
const USAGE_LOCK_MS = 30_000;

/** A stored usage summary, with the error of the last fetch when it failed. */
export interface StoredUsage extends Partial<UsageSummary> {
  error?: string;
}

/** An account as the usage store sees it: its entry and, when enabled, its usage fetch. */
export interface UsageAccount {
  entry: AccountEntry;
  parts?: { fetchUsage: () => Promise<UsageSummary> };
}

/** Options of UsageStore. */
export interface UsageStoreOptions {
  state: StateStore;
  logger: Logger;
  /** The clock in epoch milliseconds. */
  now: () => number;
}

/** The stored usage of every account, as this instance reads and refreshes it. */
export class UsageStore {
  #state: StateStore;
  #logger: Logger;
  #now: () => number;
  /** Background usage fetches under way; close() waits for them. */
  #pending = new Set<Promise<unknown>>();

  /** Keeps usage in `options.state`, timed by `options.now`. */
  constructor(options: UsageStoreOptions) {
    this.#state = options.state;
    this.#logger = options.logger;
    this.#now = options.now;
  }

  /** The account's stored usage; empty when none is stored or it is unreadable. */
  async read(id: string): Promise<StoredUsage> {
    const raw = await this.#state.get(usageKey(id));
    return (raw === undefined ? undefined : parseJsonObject(raw) as StoredUsage) ?? {};
  }

  /** The account's stored credit left, when Kiro said it. */
  async creditLeft(id: string): Promise<number | undefined> {
    const usage = await this.read(id);
    return typeof usage.remaining === "number" ? usage.remaining : undefined;
  }

  /**
   * Fetches an enabled account's usage unless the stored one is younger than `maxAgeMs`, one
   * fetch at a time per account (while another runs, the stored one is returned); a failed
   * fetch keeps the last known values and records the error. Rejects only when the store does.
   */
  async refresh(account: UsageAccount, maxAgeMs: number = USAGE_CACHE_MS): Promise<StoredUsage> {
    const key = usageKey(account.entry.id);
    const stored = await this.read(account.entry.id);
    const fresh = stored.fetchedAt !== undefined && this.#now() - stored.fetchedAt < maxAgeMs;
    if (fresh || account.parts === undefined) return stored;
    const lock = `${key}-lock`;
    const token = await this.#state.tryLock(lock, USAGE_LOCK_MS);
    if (token === undefined) return stored;
    try {
      let next: StoredUsage;
      try {
        next = await account.parts.fetchUsage();
      } catch (err) {
        next = { ...stored, fetchedAt: this.#now(), error: (err as Error).message };
        this.#logger.debug("Cannot read a Kiro account's usage", {
          account: account.entry.name,
          error: next.error,
        });
      }
      await this.#state.set(key, JSON.stringify(next));
      return next;
    } finally {
      await this.#state.unlock(lock, token);
    }
  }

  /** Starts a background refresh for each account whose stored usage is stale. */
  refreshStale(accounts: readonly UsageAccount[]): void {
    for (const account of accounts) {
      const job = this.refresh(account).catch(() => {}).finally(() => {
        this.#pending.delete(job);
      });
      this.#pending.add(job);
    }
  }

  /** Waits for the background refreshes; the store is not used afterwards. */
  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}

/**
 * Until when an account is out of credit: Kiro said nothing is left and overage is not on;
 * until the reset date, or the next usage fetch when Kiro gave none. Unknown values never count.
 */
export function exhaustedUntil(usage: StoredUsage, now: number): number | undefined {
  if (typeof usage.remaining !== "number" || usage.remaining > 0) return undefined;
  if (usage.overageAllowed === true) return undefined;
  const until = usage.resetAt ?? (usage.fetchedAt ?? now) + USAGE_CACHE_MS;
  return until > now ? until : undefined;
}

function usageKey(id: string): string {
  return `account:${id}:usage`;
}
