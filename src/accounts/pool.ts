/**
 * The account pool (spec §6.8, §9.6): several Kiro accounts behind one ChatBackend. Each
 * account has its own token lifecycle, client and model catalogue, and a request only ever
 * uses one account per attempt. An account is chosen before the first byte (sticky: keep one
 * until it fails; balanced: fewest in flight, then fewest recent failures, then least recently
 * used, with conversation affinity); a failure that another account could avoid moves the
 * request on, never to an account it already tried.
 *
 * Health (failures, cool-downs, dead and suspended accounts), in-flight counts and request
 * counts live in the StateStore, so a restart keeps them and instances sharing a Redis store
 * share them. A pool of one account (no KIRO_ACCOUNTS_FILE) is never held back by its health:
 * its own errors reach the client as before.
 */
import { createHash } from "node:crypto";
import type { TokenSource } from "../auth/token_source.ts";
import type { AccountStrategy } from "../config.ts";
import type { ChatBackend, ModelInfo, SendContext } from "../core/backend.ts";
import type { ChatEvent, ChatRequest, WebSearchHit } from "../core/chat.ts";
import { GatewayError } from "../errors.ts";
import { onEventsEnd } from "../core/event_batches.ts";
import type { Logger } from "../log.ts";
import type { KiroClient } from "../kiro/client.ts";
import type { ModelCatalog } from "../kiro/models.ts";
import type { StateStore } from "../state/state.ts";
import { InFlightCounts } from "./in_flight.ts";
import { type AccountEntry, sourceStamp } from "./entries.ts";
import { USAGE_CACHE_MS, type UsageSummary } from "./usage.ts";
import {
  classifyFailure,
  cooldownMs,
  describeFailure,
  type FailureClass,
  MAX_COOLDOWN_MS,
} from "./health.ts";

/** What /health shows of an account's state. */
export type AccountStatus = "ok" | "cooling" | "dead" | "suspended" | "disabled";

/** The parts of one usable account. */
export interface AccountParts {
  tokens: TokenSource;
  /** Its Kiro client (chat and MCP calls with its token and profile). */
  client: KiroClient;
  models: ModelCatalog;
  backend: ChatBackend;
  /** Fetches its credit from GetUsageLimits. */
  fetchUsage: () => Promise<UsageSummary>;
}

/** One account of the pool: its entry and, when enabled, its parts. */
export interface PoolAccount {
  entry: AccountEntry;
  /** Undefined for disabled entries. */
  parts?: AccountParts;
  /** Errors its token source threw (a failed refresh), to tell them from chat errors. */
  refreshErrors: WeakSet<object>;
}

/** A read-only view of one account, for /health, metrics and the status page. */
export interface AccountReport {
  /** The entry's name, or a short id; never a path or a token. */
  name: string;
  status: AccountStatus;
  /** Consecutive failures (reset by a success). */
  failures: number;
  /** When the current cool-down ends (ISO 8601), while cooling or suspended. */
  cooldownUntil?: string;
  inFlight: number;
  requests: number;
  /** Credit left this period, when known (GetUsageLimits); never a guess. */
  creditLeft?: number;
  /** When the current access token expires (ISO 8601), when known. */
  tokenExpiresAt?: string;
  /** Why it last failed, while it is not ok. */
  reason?: string;
}

/**
 * Health of one account as stored under `account:<id>:health`. The failures are a counter and
 * the last use has its own key, so that a success never rewrites this record; failures and
 * the probe's success change it under the account's health lock (see #changeHealth).
 */
interface StoredHealth {
  cooldownUntil?: number;
  reason?: string;
  /** Set when a refresh was rejected: the source's stamp then; dead until it changes. */
  deadStamp?: string;
  suspended?: boolean;
  lastFailureAt?: number;
}

/** Options of AccountPool. */
export interface AccountPoolOptions {
  accounts: PoolAccount[];
  state: StateStore;
  strategy: AccountStrategy;
  /** The first cool-down (ACCOUNT_COOLDOWN_SECONDS), doubled per consecutive failure. */
  cooldownMs: number;
  logger: Logger;
  /** The clock in epoch milliseconds. */
  now?: () => number;
  /** Told each time a request moves on to the next account (the metrics count these). */
  onFailover?: () => void;
}

/** Balanced selection treats accounts this close to the least in-flight count as tied. */
const NEAR_TIE_IN_FLIGHT = 1;

/** The window of "recent" failures for balanced ordering. */
const RECENT_FAILURES_TTL_MS = 60 * 60_000;
/** How long a conversation stays bound to an account without a request. */
export const AFFINITY_TTL_MS = 60 * 60_000;
/** How long one half-open probe may take before another request may probe. */
const PROBE_LOCK_MS = 5 * 60_000;
/** How long one change of an account's health may hold its lock (a few store calls). */
const HEALTH_LOCK_MS = 10_000;
/** How often and how many times (2 s in all) a change tries the health lock before going without. */
const HEALTH_LOCK_RETRY_MS = 10;
const HEALTH_LOCK_ATTEMPTS = 200;

/** Store keys of one account. */
function keys(id: string) {
  return {
    health: `account:${id}:health`,
    failures: `account:${id}:failures`,
    recentFailures: `account:${id}:recent-failures`,
    requests: `account:${id}:requests`,
    probe: `account:${id}:probe`,
    healthLock: `account:${id}:health-lock`,
    lastUsed: `account:${id}:last-used`,
    usage: `account:${id}:usage`,
  };
}

const CURRENT_KEY = "pool:current";

/** How long one usage fetch may hold its account's usage lock. */
const USAGE_LOCK_MS = 30_000;

/** A stored usage summary, with the error of the last fetch when it failed. */
interface StoredUsage extends Partial<UsageSummary> {
  error?: string;
}

/** One account's line of GET /v1/usage. */
export interface AccountUsage extends Partial<UsageSummary> {
  name: string;
  status: AccountStatus;
  /** Why the usage is unknown or stale: the last fetch's error. */
  error?: string;
}

/** An account's state as read for one selection. */
interface AccountView {
  account: PoolAccount;
  health: StoredHealth;
  failures: number;
  /** When a request last succeeded with it (epoch ms), 0 when never. */
  lastUsedAt: number;
  inFlight: number;
  recentFailures: number;
  status: AccountStatus;
  /** Its cool-down is over but it has failed: one probe request may try it (half-open). */
  halfOpen: boolean;
}

/** The account chosen for one attempt, with the probe lock it holds, if any. */
interface Choice {
  account: PoolAccount;
  probeToken?: string;
}

/** The accounts, their health and the choice of account for each request. */
export class AccountPool implements ChatBackend {
  #accounts: PoolAccount[];
  #live: PoolAccount[];
  #state: StateStore;
  #strategy: AccountStrategy;
  #cooldownMs: number;
  #logger: Logger;
  #onFailover: (() => void) | undefined;
  #now: () => number;
  #inFlight: InFlightCounts;
  /** Background usage fetches under way; close() waits for them. */
  #pending = new Set<Promise<unknown>>();
  /** Rotates the choice among near-equally loaded accounts (see #balancedOrder). */
  #turn = 0;

  constructor(options: AccountPoolOptions) {
    this.#accounts = options.accounts;
    this.#live = options.accounts.filter((a) => a.parts !== undefined);
    if (this.#live.length === 0) throw new Error("An account pool needs an enabled account");
    this.#state = options.state;
    this.#inFlight = new InFlightCounts(options.state, options.now ?? Date.now);
    this.#strategy = options.strategy;
    this.#cooldownMs = options.cooldownMs;
    this.#logger = options.logger;
    this.#onFailover = options.onFailover;
    this.#now = options.now ?? Date.now;
  }

  /** Every configured account, enabled or not, in file order. */
  get accounts(): readonly PoolAccount[] {
    return this.#accounts;
  }

  /**
   * Sends `chat` through one account after another until one answers (see ChatBackend.send).
   * Rejects with the request's own error, the single account's error, or an
   * `accounts_unavailable` error naming each account's reason, with Retry-After.
   */
  async send(
    chat: ChatRequest,
    signal: AbortSignal,
    context: SendContext = {},
  ): Promise<ReadableStream<ChatEvent>> {
    const affinity = this.#strategy === "balanced" ? affinityKey(chat, context) : undefined;
    const { value, account, done } = await this.#withAccount(
      { model: chat.model, affinity, signal },
      (parts) => parts.backend.send(chat, signal, context),
    );
    context.onAccount?.(account.entry.name);
    return countedUntilEnd(value, done);
  }

  /**
   * Runs `attempt` with one account after another until one succeeds; never tries an account
   * twice. Resolves with the value, the account and `done`, which lowers its in-flight count
   * (call it once the answer is over). Rejects with the request's own error, the single
   * account's error, or an `accounts_unavailable` error naming each account's reason.
   */
  async #withAccount<T>(
    request: { model?: string; affinity?: string; signal: AbortSignal },
    attempt: (parts: AccountParts) => Promise<T>,
  ): Promise<{ value: T; account: PoolAccount; done: () => Promise<void> }> {
    const tried = new Set<string>();
    const failures = new Map<string, string>();
    let lastError: GatewayError | undefined;
    while (true) {
      const choice = await this.#choose(request.model, tried, request.affinity);
      if (choice === undefined) break;
      const { account } = choice;
      const { id, name } = account.entry;
      tried.add(id);
      const k = keys(id);
      await this.#state.increment(k.requests);
      const done = await this.#inFlight.begin(id);
      let value: T;
      try {
        value = await attempt(account.parts!);
      } catch (err) {
        await done();
        if (request.signal.aborted || !(err instanceof GatewayError)) {
          await this.#releaseProbe(choice);
          throw err;
        }
        const failure = classifyFailure(err, account.refreshErrors.has(err));
        await this.#recordFailure(choice, failure, err);
        if (failure === "fatal") throw err;
        if (this.#live.length === 1) throw err;
        this.#logger.warn("Kiro account failed; trying the next one", {
          account: name,
          failure,
          error: err.message,
        });
        failures.set(id, describeFailure(err));
        lastError = err;
        this.#onFailover?.();
        continue;
      }
      await this.#recordSuccess(choice, request.affinity);
      return { value, account, done };
    }
    if (lastError !== undefined && this.#live.length === 1) throw lastError;
    throw await this.#unavailable(failures);
  }

  /**
   * Runs one web search with the account a chat would use now (healthy ones first, in the
   * strategy's order), trying the next when one fails. Search failures do not count against
   * an account's health: its chat calls judge that. Rejects with the last failure.
   */
  async searchWeb(
    query: string,
    signal: AbortSignal,
    context: SendContext = {},
  ): Promise<WebSearchHit[]> {
    const views = await Promise.all(this.#live.map((a) => this.#view(a)));
    const healthy = views.filter((v) => v.status === "ok");
    const ordered = this.#strategy === "balanced"
      ? await this.#balancedOrder(healthy, undefined)
      : await this.#stickyOrder(healthy);
    const rest = views.filter((v) => v.status !== "ok");
    let lastError: unknown;
    for (const { account } of [...ordered, ...rest]) {
      const backend = account.parts!.backend;
      if (!backend.searchWeb) continue;
      try {
        return await backend.searchWeb(query, signal, context);
      } catch (err) {
        if (signal.aborted) throw err;
        lastError = err;
        this.#logger.warn("Web search failed with an account", {
          account: account.entry.name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    throw lastError ?? new GatewayError("upstream", "Cannot search the web: no account can");
  }

  /** Estimates input tokens with the first account's estimator (all share one counter). */
  countInputTokens(chat: ChatRequest): number {
    return this.#live[0]!.parts!.backend.countInputTokens(chat);
  }

  /** The models any enabled account offers, merged by id. */
  async listModels(): Promise<ModelInfo[]> {
    if (this.#live.length === 1) return await this.#live[0]!.parts!.backend.listModels();
    const lists = await Promise.all(this.#live.map((a) => a.parts!.backend.listModels()));
    const merged = new Map<string, ModelInfo>();
    for (const list of lists) {
      for (const model of list) if (!merged.has(model.id)) merged.set(model.id, model);
    }
    return [...merged.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A read-only view of every account, in file order; holds no token and no path. */
  async snapshot(): Promise<AccountReport[]> {
    return await Promise.all(this.#accounts.map(async (account) => {
      const { name } = account.entry;
      if (account.parts === undefined) {
        return { name, status: "disabled", failures: 0, inFlight: 0, requests: 0 };
      }
      const view = await this.#view(account);
      const k = keys(account.entry.id);
      const requests = Number(await this.#state.get(k.requests) ?? 0) || 0;
      const expiresAt = account.parts.tokens.status().expiresAt;
      const snapshot: AccountReport = {
        name,
        status: view.status,
        failures: view.failures,
        inFlight: view.inFlight,
        requests,
      };
      const until = view.health.cooldownUntil;
      if ((view.status === "cooling" || view.status === "suspended") && until !== undefined) {
        snapshot.cooldownUntil = new Date(until).toISOString();
      }
      const creditLeft = await this.#creditLeft(account.entry.id);
      if (creditLeft !== undefined) snapshot.creditLeft = creditLeft;
      if (expiresAt !== undefined) snapshot.tokenExpiresAt = expiresAt;
      if (view.status !== "ok" && view.health.reason) snapshot.reason = view.health.reason;
      return snapshot;
    }));
  }

  async #creditLeft(id: string): Promise<number | undefined> {
    const usage = await this.#storedUsage(id);
    return typeof usage.remaining === "number" ? usage.remaining : undefined;
  }

  async #storedUsage(id: string): Promise<StoredUsage> {
    const raw = await this.#state.get(keys(id).usage);
    if (raw === undefined) return {};
    try {
      const usage = JSON.parse(raw);
      return typeof usage === "object" && usage !== null ? usage as StoredUsage : {};
    } catch {
      return {};
    }
  }

  /**
   * Fetches an account's usage unless a fresh one is stored (or `force`), one fetch at a time
   * per account; a failed fetch keeps the last known values and records the error.
   */
  async #refreshUsage(account: PoolAccount, force: boolean): Promise<StoredUsage> {
    const k = keys(account.entry.id);
    const stored = await this.#storedUsage(account.entry.id);
    const fresh = stored.fetchedAt !== undefined && this.#now() - stored.fetchedAt < USAGE_CACHE_MS;
    if ((fresh && !force) || account.parts === undefined) return stored;
    const lock = `${k.usage}-lock`;
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
      await this.#state.set(k.usage, JSON.stringify(next));
      return next;
    } finally {
      await this.#state.unlock(lock, token);
    }
  }

  /** Starts a background usage refresh for each account whose stored usage is stale. */
  #refreshStaleUsage(accounts: PoolAccount[]): void {
    for (const account of accounts) {
      const job = this.#refreshUsage(account, false).catch(() => {}).finally(() => {
        this.#pending.delete(job);
      });
      this.#pending.add(job);
    }
  }

  /** Every account's credit for GET /v1/usage, fetched now unless fetched under a minute ago. */
  async usageReport(): Promise<AccountUsage[]> {
    return await Promise.all(this.#accounts.map(async (account) => {
      const { name } = account.entry;
      if (account.parts === undefined) return { name, status: "disabled" as const };
      const stored = await this.#storedUsage(account.entry.id);
      const recent = stored.fetchedAt !== undefined && this.#now() - stored.fetchedAt < 60_000;
      const usage = await this.#refreshUsage(account, !recent);
      const view = await this.#view(account);
      return { name, status: view.status, ...usage };
    }));
  }

  /** Waits for background usage fetches; the pool is not used afterwards. */
  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** Reads an account's stored health and derives its status. */
  async #view(account: PoolAccount): Promise<AccountView> {
    const k = keys(account.entry.id);
    const [rawHealth, rawFailures, inFlight, rawRecent, rawLastUsed] = await Promise.all([
      this.#state.get(k.health),
      this.#state.get(k.failures),
      this.#inFlight.read(account.entry.id),
      this.#state.get(k.recentFailures),
      this.#state.get(k.lastUsed),
    ]);
    const health = parseHealth(rawHealth);
    const failures = Math.max(0, Number(rawFailures ?? 0) || 0);
    const now = this.#now();
    const exhaustedUntil = exhaustion(await this.#storedUsage(account.entry.id), now);
    if (exhaustedUntil !== undefined && exhaustedUntil > (health.cooldownUntil ?? 0)) {
      health.cooldownUntil = exhaustedUntil;
      health.reason = "no credit left and no overage until the usage resets";
    }
    let status: AccountStatus = "ok";
    if (health.deadStamp !== undefined) {
      if (health.deadStamp === await sourceStamp(account.entry)) status = "dead";
    } else if (health.suspended && (health.cooldownUntil ?? 0) > now) {
      status = "suspended";
    } else if ((health.cooldownUntil ?? 0) > now) {
      status = "cooling";
    }
    return {
      account,
      health,
      failures,
      lastUsedAt: Number(rawLastUsed ?? 0) || 0,
      inFlight,
      recentFailures: Math.max(0, Number(rawRecent ?? 0) || 0),
      status,
      halfOpen: status === "ok" && (failures > 0 || health.deadStamp !== undefined),
    };
  }

  /** Picks the next account to try, or undefined when none is left. */
  async #choose(
    model: string | undefined,
    tried: Set<string>,
    affinity: string | undefined,
  ): Promise<Choice | undefined> {
    const untried = this.#live.filter((a) => !tried.has(a.entry.id));
    if (this.#live.length === 1) return untried[0] && { account: untried[0] };
    if (tried.size === 0) this.#refreshStaleUsage(this.#live);
    const views = await Promise.all(untried.map((a) => this.#view(a)));
    let eligible = views.filter((v) => v.status === "ok");
    const offering = model === undefined
      ? eligible
      : eligible.filter((v) => offersModel(v.account, model));
    if (offering.length > 0) eligible = offering;
    const ordered = this.#strategy === "balanced"
      ? await this.#balancedOrder(eligible, affinity)
      : await this.#stickyOrder(eligible);
    for (const view of ordered) {
      if (!view.halfOpen) return { account: view.account };
      const probeToken = await this.#state.tryLock(
        keys(view.account.entry.id).probe,
        PROBE_LOCK_MS,
      );
      if (probeToken !== undefined) return { account: view.account, probeToken };
    }
    return undefined;
  }

  /** The current account first, then the others in file order after it. */
  async #stickyOrder(views: AccountView[]): Promise<AccountView[]> {
    const current = await this.#state.get(CURRENT_KEY);
    const start = Math.max(0, this.#live.findIndex((a) => a.entry.id === current));
    const rank = (v: AccountView) => {
      const index = this.#live.indexOf(v.account);
      return (index - start + this.#live.length) % this.#live.length;
    };
    return [...views].sort((a, b) => rank(a) - rank(b));
  }

  /**
   * The conversation's account first, then fewest in flight, recent failures, LRU. Requests
   * that arrive together (here or on other instances sharing the store) all read the same
   * counts before any of them is counted, so they would all pick the same account: accounts
   * within NEAR_TIE_IN_FLIGHT of the least loaded one take turns instead (this round-robin
   * replaces least-recently-used among them, which is just as stale in a burst).
   */
  async #balancedOrder(views: AccountView[], affinity: string | undefined): Promise<AccountView[]> {
    const bound = affinity === undefined ? undefined : await this.#state.get(affinity);
    const sorted = [...views].sort((a, b) =>
      Number(b.account.entry.id === bound) - Number(a.account.entry.id === bound) ||
      a.inFlight - b.inFlight ||
      a.recentFailures - b.recentFailures ||
      a.lastUsedAt - b.lastUsedAt
    );
    const first = sorted[0];
    if (first === undefined || first.account.entry.id === bound) return sorted;
    // In file order, so that one request after another also goes round the accounts.
    const near = views.filter((v) =>
      v.inFlight <= first.inFlight + NEAR_TIE_IN_FLIGHT && v.recentFailures === first.recentFailures
    );
    const turn = this.#turn++ % near.length;
    const rest = sorted.filter((v) => !near.includes(v));
    return [...near.slice(turn), ...near.slice(0, turn), ...rest];
  }

  /**
   * Records a success. Only the half-open probe's success clears the account's failures,
   * cool-down and dead or suspended mark: any other success was chosen while the account was
   * healthy, so a failure recorded meanwhile by another request (here or on another instance)
   * is newer news than it and stays.
   */
  async #recordSuccess(choice: Choice, affinity: string | undefined): Promise<void> {
    const { id, name } = choice.account.entry;
    const k = keys(id);
    await this.#state.set(k.lastUsed, String(this.#now()));
    if (choice.probeToken !== undefined) {
      await this.#changeHealth(choice.account.entry, async () => {
        await this.#state.delete(k.failures);
        await this.#state.delete(k.health);
      });
      this.#logger.info("Kiro account works again", { account: name });
    }
    if (this.#strategy === "sticky") await this.#state.set(CURRENT_KEY, id);
    if (affinity !== undefined) await this.#state.set(affinity, id, { ttlMs: AFFINITY_TTL_MS });
    await this.#releaseProbe(choice);
  }

  /**
   * Records a failure that counts against the account. The count and the record change
   * together under the health lock; the cool-down only ever grows, and a dead or suspended
   * mark set by another request stays (only the probe's success clears them).
   */
  async #recordFailure(choice: Choice, failure: FailureClass, err: GatewayError): Promise<void> {
    try {
      if (failure === "fatal" || failure === "skip" || this.#live.length === 1) return;
      const { entry } = choice.account;
      const k = keys(entry.id);
      const now = this.#now();
      const { failures, next } = await this.#changeHealth(entry, async () => {
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
    } finally {
      await this.#releaseProbe(choice);
    }
  }

  /**
   * Runs `change` (a read-modify-write of one account's health) under that account's lock,
   * so that outcomes recorded at once, in this process or on other instances, do not overwrite
   * each other. Waits for the lock briefly; past that, runs unlocked rather than fail the
   * request (a lost update only misjudges a cool-down, a failed request is worse).
   */
  async #changeHealth<T>(entry: AccountEntry, change: () => Promise<T>): Promise<T> {
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

  async #releaseProbe(choice: Choice): Promise<void> {
    if (choice.probeToken === undefined) return;
    await this.#state.unlock(keys(choice.account.entry.id).probe, choice.probeToken);
    choice.probeToken = undefined;
  }

  /** The 503 when no account could answer: each account's reason, Retry-After the soonest. */
  async #unavailable(failures: Map<string, string>): Promise<GatewayError> {
    const views = await Promise.all(this.#live.map((a) => this.#view(a)));
    const now = this.#now();
    const parts: string[] = [];
    let soonest: number | undefined;
    for (const view of views) {
      const { id, name } = view.account.entry;
      const until = view.health.cooldownUntil;
      if (until !== undefined && until > now && view.status !== "dead") {
        soonest = soonest === undefined ? until : Math.min(soonest, until);
      }
      const failed = failures.get(id);
      const why = failed ??
        (view.status === "dead"
          ? `dead: ${view.health.reason ?? "its refresh token was rejected"}`
          : view.status === "cooling" || view.status === "suspended"
          ? `${view.status} until ${new Date(until ?? now).toISOString()}`
          : view.halfOpen
          ? "another request is probing it"
          : "does not offer the model");
      parts.push(`${name}: ${why}`);
    }
    return new GatewayError(
      "accounts_unavailable",
      `No Kiro account could answer: ${parts.join("; ")}`,
      {
        retryAfterSeconds: soonest === undefined
          ? undefined
          : Math.max(1, Math.ceil((soonest - now) / 1000)),
      },
    );
  }
}

/**
 * Until when an account is out of credit: Kiro said nothing is left and overage is not on;
 * until the reset date, or the next usage fetch when Kiro gave none. Unknown values never count.
 */
function exhaustion(usage: StoredUsage, now: number): number | undefined {
  if (typeof usage.remaining !== "number" || usage.remaining > 0) return undefined;
  if (usage.overageAllowed === true) return undefined;
  const until = usage.resetAt ?? (usage.fetchedAt ?? now) + USAGE_CACHE_MS;
  return until > now ? until : undefined;
}

/** `stamp` while the entry's credentials are unchanged since it was taken, else undefined. */
async function keptDeadStamp(
  entry: AccountEntry,
  stamp: string | undefined,
): Promise<string | undefined> {
  if (stamp === undefined) return undefined;
  return stamp === await sourceStamp(entry) ? stamp : undefined;
}

function parseHealth(raw: string | undefined): StoredHealth {
  if (raw === undefined) return {};
  try {
    const value = JSON.parse(raw);
    return typeof value === "object" && value !== null ? value as StoredHealth : {};
  } catch {
    return {};
  }
}

/** Whether the account's live catalogue has the model (a fallback list says yes to all). */
function offersModel(account: PoolAccount, model: string): boolean {
  const models = account.parts!.models;
  if (models.source !== "live") return true;
  try {
    return models.resolve(model).source === "cache";
  } catch {
    return true; // an alias cycle fails the same way on every account
  }
}

/**
 * The key that keeps one conversation on one account: the client's prompt_cache_key, its
 * session header, or a hash of the system prompt and the first user message.
 */
export function affinityKey(chat: ChatRequest, context: SendContext): string {
  const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);
  if (chat.promptCacheKey) return `affinity:k:${hash(chat.promptCacheKey)}`;
  if (context.sessionKey) return `affinity:s:${hash(context.sessionKey)}`;
  const first = chat.messages.find((m) => m.role === "user")?.text ?? "";
  return `affinity:c:${hash(`${chat.system}\u0000${first}`)}`;
}

/** Wraps an account's token source so its failures are recognised as refresh failures. */
export function tagRefreshFailures(tokens: TokenSource, failures: WeakSet<object>): TokenSource {
  const tag = (err: unknown): never => {
    if (typeof err === "object" && err !== null) failures.add(err);
    throw err;
  };
  return {
    getAccess: () => tokens.getAccess().catch(tag),
    forceRefresh: (rejected) => tokens.forceRefresh(rejected).catch(tag),
    status: () => tokens.status(),
  };
}

/**
 * Passes `events` on (keeping their batches, see eventBatches) and calls `done` once when they
 * end or are cancelled.
 */
function countedUntilEnd(
  events: ReadableStream<ChatEvent>,
  done: () => Promise<void>,
): ReadableStream<ChatEvent> {
  return onEventsEnd(events, done);
}
