/**
 * The account pool (spec §6.8, §9.6): several Kiro accounts behind one ChatBackend. Each
 * account has its own token lifecycle, client and model catalogue, and a request only ever
 * uses one account per attempt. An account is chosen before the first byte (sticky: keep one
 * until it fails; balanced: fewest in flight, then fewest recent failures, then least recently
 * used, with conversation affinity); a failure that another account could avoid moves the
 * request on, never to an account it already tried.
 *
 * Health (failures, cool-downs, dead and suspended accounts: health_store.ts), credit
 * (usage_store.ts), in-flight counts (in_flight.ts) and request counts live in the StateStore,
 * so a restart keeps them and instances sharing a Redis store share them. A pool of one account
 * (no KIRO_ACCOUNTS_FILE) is never held back by its health: its own errors reach the client as
 * before.
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
import type { UsageSummary } from "./usage.ts";
import { exhaustedUntil, UsageStore } from "./usage_store.ts";
import { classifyFailure, describeFailure, type FailureClass } from "./health.ts";
import { type HealthRecord, HealthStore } from "./health_store.ts";

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

/** How long a conversation stays bound to an account without a request. */
export const AFFINITY_TTL_MS = 60 * 60_000;
/** The sticky strategy's current account (its id). */
const CURRENT_KEY = "pool:current";

/** The key counting the requests an account was tried for. */
function requestsKey(id: string): string {
  return `account:${id}:requests`;
}

/** One account's line of GET /v1/usage. */
export interface AccountUsage extends Partial<UsageSummary> {
  name: string;
  status: AccountStatus;
  /** Why the usage is unknown or stale: the last fetch's error. */
  error?: string;
}

/** An account's state as read for one selection: its health record and more. */
interface AccountView extends HealthRecord {
  account: PoolAccount;
  inFlight: number;
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
  #logger: Logger;
  #onFailover: (() => void) | undefined;
  #now: () => number;
  #inFlight: InFlightCounts;
  #health: HealthStore;
  #usage: UsageStore;
  /** Rotates the choice among near-equally loaded accounts (see #balancedOrder). */
  #turn = 0;

  constructor(options: AccountPoolOptions) {
    this.#accounts = options.accounts;
    this.#live = options.accounts.filter((a) => a.parts !== undefined);
    if (this.#live.length === 0) throw new Error("An account pool needs an enabled account");
    this.#state = options.state;
    this.#strategy = options.strategy;
    this.#logger = options.logger;
    this.#onFailover = options.onFailover;
    this.#now = options.now ?? Date.now;
    const { state, logger, cooldownMs } = options;
    this.#inFlight = new InFlightCounts(state, this.#now);
    this.#health = new HealthStore({ state, cooldownMs, logger, now: this.#now });
    this.#usage = new UsageStore({ state, logger, now: this.#now });
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
      await this.#state.increment(requestsKey(id));
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
      const requests = Number(await this.#state.get(requestsKey(account.entry.id)) ?? 0) || 0;
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
      const creditLeft = await this.#usage.creditLeft(account.entry.id);
      if (creditLeft !== undefined) snapshot.creditLeft = creditLeft;
      if (expiresAt !== undefined) snapshot.tokenExpiresAt = expiresAt;
      if (view.status !== "ok" && view.health.reason) snapshot.reason = view.health.reason;
      return snapshot;
    }));
  }

  /** Every account's credit for GET /v1/usage, fetched now unless fetched under a minute ago. */
  async usageReport(): Promise<AccountUsage[]> {
    return await Promise.all(this.#accounts.map(async (account) => {
      const { name } = account.entry;
      if (account.parts === undefined) return { name, status: "disabled" as const };
      const usage = await this.#usage.refresh(account, 60_000);
      const view = await this.#view(account);
      return { name, status: view.status, ...usage };
    }));
  }

  /** Waits for background usage fetches; the pool is not used afterwards. */
  async close(): Promise<void> {
    await this.#usage.close();
  }

  /** Reads an account's stored health and derives its status. */
  async #view(account: PoolAccount): Promise<AccountView> {
    const { id } = account.entry;
    const [record, inFlight] = await Promise.all([
      this.#health.read(id),
      this.#inFlight.read(id),
    ]);
    const { health, failures } = record;
    const now = this.#now();
    const exhausted = exhaustedUntil(await this.#usage.read(id), now);
    if (exhausted !== undefined && exhausted > (health.cooldownUntil ?? 0)) {
      health.cooldownUntil = exhausted;
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
      ...record,
      account,
      inFlight,
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
    if (tried.size === 0) this.#usage.refreshStale(this.#live);
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
      const probeToken = await this.#health.tryProbe(view.account.entry.id);
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

  /** Records a success (see HealthStore.recordSuccess) and binds the account for next time. */
  async #recordSuccess(choice: Choice, affinity: string | undefined): Promise<void> {
    const { entry } = choice.account;
    await this.#health.recordSuccess(entry, choice.probeToken !== undefined);
    if (this.#strategy === "sticky") await this.#state.set(CURRENT_KEY, entry.id);
    if (affinity !== undefined) {
      await this.#state.set(affinity, entry.id, { ttlMs: AFFINITY_TTL_MS });
    }
    await this.#releaseProbe(choice);
  }

  /** Records a failure that counts against the account (see HealthStore.recordFailure). */
  async #recordFailure(choice: Choice, failure: FailureClass, err: GatewayError): Promise<void> {
    try {
      if (failure === "fatal" || failure === "skip" || this.#live.length === 1) return;
      await this.#health.recordFailure(choice.account.entry, failure, err);
    } finally {
      await this.#releaseProbe(choice);
    }
  }

  /** Releases the choice's probe, if it holds one; once. */
  async #releaseProbe(choice: Choice): Promise<void> {
    if (choice.probeToken === undefined) return;
    await this.#health.releaseProbe(choice.account.entry.id, choice.probeToken);
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
