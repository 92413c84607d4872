/**
 * Each account's health records in the StateStore (spec §6.8): its stored health (cool-down,
 * reason, dead and suspended marks), its consecutive and recent failure counts, its last
 * success and its half-open probe lock. Outcomes change the record under the account's health
 * lock, so that outcomes recorded at once, here or on other instances, keep each other's news.
 */
import { parseJsonObject } from "../auth/credentials.ts";
import type { GatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { StateStore } from "../state/state.ts";
import { type AccountEntry, sourceStamp } from "./entries.ts";
import { cooldownMs, describeFailure, type FailureClass, MAX_COOLDOWN_MS } from "./health.ts";

/**
 * Health of one account as stored under `account:<id>:health`. The failures are a counter and
 * the last use has its own key, so that a success never rewrites this record; failures and
 * the probe's success change it under the account's health lock.
 */
export interface StoredHealth {
  cooldownUntil?: number;
  reason?: string;
  /** Set when a refresh was rejected: the source's stamp then; dead until it changes. */
  deadStamp?: string;
  suspended?: boolean;
  lastFailureAt?: number;
}

/** Everything stored of one account's health, read at once. */
export interface HealthRecord {
  health: StoredHealth;
  /** Consecutive failures (reset by the probe's success). */
  failures: number;
  /** Failures within the last hour, for balanced ordering. */
  recentFailures: number;
  /** When a request last succeeded with it (epoch ms), 0 when never. */
  lastUsedAt: number;
}

/** A failure that counts against the account (the pool records no other). */
export type CountedFailure = Exclude<FailureClass, "fatal" | "skip">;

/** Options of HealthStore. */
export interface HealthStoreOptions {
  state: StateStore;
  /** The first cool-down (ACCOUNT_COOLDOWN_SECONDS), doubled per consecutive failure. */
  cooldownMs: number;
  logger: Logger;
  /** The clock in epoch milliseconds. */
  now: () => number;
}

/** The window of "recent" failures for balanced ordering. */
const RECENT_FAILURES_TTL_MS = 60 * 60_000;
/** How long one half-open probe may take before another request may probe. */
const PROBE_LOCK_MS = 5 * 60_000;
/** How long one change of an account's health may hold its lock (a few store calls). */
const HEALTH_LOCK_MS = 10_000;
/** How often and how many times (2 s in all) a change tries the health lock before going without. */
const HEALTH_LOCK_RETRY_MS = 10;
const HEALTH_LOCK_ATTEMPTS = 200;

/** Store keys of one account's health. */
function keys(id: string) {
  return {
    health: `account:${id}:health`,
    failures: `account:${id}:failures`,
    recentFailures: `account:${id}:recent-failures`,
    probe: `account:${id}:probe`,
    healthLock: `account:${id}:health-lock`,
    lastUsed: `account:${id}:last-used`,
  };
}

/** The health records of every account, as this instance reads and changes them. */
export class HealthStore {
  #state: StateStore;
  #cooldownMs: number;
  #logger: Logger;
  #now: () => number;

  /** Keeps health in `options.state`, timed by `options.now`. */
  constructor(options: HealthStoreOptions) {
    this.#state = options.state;
    this.#cooldownMs = options.cooldownMs;
    this.#logger = options.logger;
    this.#now = options.now;
  }

  /** Reads the account's stored health, failure counts and last success. */
  async read(id: string): Promise<HealthRecord> {
    const k = keys(id);
    const [rawHealth, rawFailures, rawRecent, rawLastUsed] = await Promise.all([
      this.#state.get(k.health),
      this.#state.get(k.failures),
      this.#state.get(k.recentFailures),
      this.#state.get(k.lastUsed),
    ]);
    return {
      health: parseHealth(rawHealth),
      failures: Math.max(0, Number(rawFailures ?? 0) || 0),
      recentFailures: Math.max(0, Number(rawRecent ?? 0) || 0),
      lastUsedAt: Number(rawLastUsed ?? 0) || 0,
    };
  }

  /** Takes the account's half-open probe: a token to release it with, or undefined when taken. */
  tryProbe(id: string): Promise<string | undefined> {
    return this.#state.tryLock(keys(id).probe, PROBE_LOCK_MS);
  }

  /** Releases the probe `token` took. */
  releaseProbe(id: string, token: string): Promise<void> {
    return this.#state.unlock(keys(id).probe, token);
  }

  /**
   * Records a success. Only the half-open probe's success (`probed`) clears the account's
   * failures, cool-down and dead or suspended mark: any other success was chosen while the
   * account was healthy, so a failure recorded meanwhile by another request (here or on
   * another instance) is newer news than it and stays.
   */
  async recordSuccess(entry: AccountEntry, probed: boolean): Promise<void> {
    const k = keys(entry.id);
    await this.#state.set(k.lastUsed, String(this.#now()));
    if (!probed) return;
    await this.#change(entry, async () => {
      await this.#state.delete(k.failures);
      await this.#state.delete(k.health);
    });
    this.#logger.info("Kiro account works again", { account: entry.name });
  }

  /**
   * Records a failure that counts against the account. The count and the record change
   * together under the health lock; the cool-down only ever grows, and a dead or suspended
   * mark set by another request stays (only the probe's success clears them).
   */
  async recordFailure(
    entry: AccountEntry,
    failure: CountedFailure,
    err: GatewayError,
  ): Promise<void> {
    const k = keys(entry.id);
    const now = this.#now();
    const { failures, next } = await this.#change(entry, async () => {
      const failures = await this.#state.increment(k.failures);
      await this.#state.increment(k.recentFailures, 1, { ttlMs: RECENT_FAILURES_TTL_MS });
      const health = parseHealth(await this.#state.get(k.health));
      const running = (health.cooldownUntil ?? 0) > now ? health.cooldownUntil : undefined;
      const next: StoredHealth = {
        lastFailureAt: now,
        reason: describeFailure(err),
        deadStamp: failure === "dead"
          ? await sourceStamp(entry)
          : await keptDeadStamp(entry, health.deadStamp),
        suspended: failure === "suspended" || (health.suspended === true && running !== undefined)
          ? true
          : undefined,
      };
      const until = failure === "dead" ? undefined : now +
        (failure === "suspended" ? MAX_COOLDOWN_MS : cooldownMs(this.#cooldownMs, failures));
      next.cooldownUntil = Math.max(until ?? 0, running ?? 0) || undefined;
      await this.#state.set(k.health, JSON.stringify(next));
      return { failures, next };
    });
    this.#logger.warn(
      failure === "dead"
        ? "Kiro account's refresh token was rejected: it is skipped until its credentials change"
        : failure === "suspended"
        ? "Kiro account is suspended: it rests for a day"
        : "Kiro account cools down",
      {
        account: entry.name,
        failures,
        cooldownUntil: next.cooldownUntil === undefined
          ? undefined
          : new Date(next.cooldownUntil).toISOString(),
      },
    );
  }

  /**
   * Runs `change` (a read-modify-write of one account's health) under that account's lock,
   * so that outcomes recorded at once, in this process or on other instances, do not overwrite
   * each other. Waits for the lock briefly; past that, runs unlocked rather than fail the
   * request (a lost update only misjudges a cool-down, a failed request is worse).
   */
  async #change<T>(entry: AccountEntry, change: () => Promise<T>): Promise<T> {
    const lock = keys(entry.id).healthLock;
    let token: string | undefined;
    for (let attempt = 0; attempt < HEALTH_LOCK_ATTEMPTS; attempt++) {
      token = await this.#state.tryLock(lock, HEALTH_LOCK_MS);
      if (token !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, HEALTH_LOCK_RETRY_MS));
    }
    if (token === undefined) {
      this.#logger.warn("Kiro account's health lock is busy: recording its outcome without it", {
        account: entry.name,
      });
    }
    try {
      return await change();
    } finally {
      if (token !== undefined) await this.#state.unlock(lock, token);
    }
  }
}

/** A stored health record; anything unreadable counts as no record. */
function parseHealth(raw: string | undefined): StoredHealth {
  return (raw === undefined ? undefined : parseJsonObject(raw) as StoredHealth) ?? {};
}

/** `stamp` while the entry's credentials are unchanged since it was taken, else undefined. */
async function keptDeadStamp(
  entry: AccountEntry,
  stamp: string | undefined,
): Promise<string | undefined> {
  if (stamp === undefined) return undefined;
  return stamp === await sourceStamp(entry) ? stamp : undefined;
}
