/**
 * The composition root: builds every long-lived part of a gateway from its configuration.
 * main.ts serves what this returns; end-to-end tests use it the same way, with fake upstreams.
 */
import { type AccountEntry, loadAccountEntries } from "./accounts/entries.ts";
import { AccountPool, type PoolAccount, tagRefreshFailures } from "./accounts/pool.ts";
import { fetchUsage } from "./accounts/usage.ts";
import { stateSharedTokens } from "./auth/shared_tokens.ts";
import {
  createTokenSource,
  CredentialsError,
  type CredentialStatus,
  type TokenSource,
} from "./auth/token_source.ts";
import type { Config } from "./config.ts";
import { randomHex } from "./core/ids.ts";
import { TokenCounter } from "./core/tokens.ts";
import { TruncationStore } from "./core/truncation.ts";
import { WebSearchBackend } from "./core/web_search.ts";
import { KiroBackend } from "./kiro/backend.ts";
import { KiroClient, type KiroClientOptions } from "./kiro/client.ts";
import { machineFingerprint } from "./kiro/endpoints.ts";
import { ModelCatalog } from "./kiro/models.ts";
import type { Logger } from "./log.ts";
import { singleAccountView } from "./ops/accounts.ts";
import { RequestJournal } from "./ops/journal.ts";
import { startHeapTrim } from "./ops/heap_trim.ts";
import { GatewayMetrics } from "./ops/metrics.ts";
import { catalogModelLabeler } from "./ops/model_label.ts";
import { createHandler, type ServerDeps } from "./server.ts";
import { openStateStore } from "./state/open.ts";
import type { StateStore } from "./state/state.ts";

/** Options of createGateway. */
export interface GatewayOptions {
  logger: Logger;
  /** The clock in epoch milliseconds. */
  now?: () => number;
  /** Where `~` is, for credential discovery. */
  homeDir?: string;
  /** Extra server dependencies, such as the debug recorder. */
  deps?: Partial<ServerDeps>;
  /** The state store to use instead of opening the configured one; the gateway closes it. */
  state?: StateStore;
  /** Kiro client settings for tests (backoff without real waits). */
  client?: Pick<KiroClientOptions, "sleep" | "retryBaseMs">;
}

/** What buildPool needs besides the config. */
interface PoolBuildOptions {
  logger: Logger;
  now: () => number;
  fetch: typeof fetch;
  homeDir?: string;
  state: StateStore;
  client?: Pick<KiroClientOptions, "sleep" | "retryBaseMs">;
  counter: TokenCounter;
  metrics: GatewayMetrics;
}

/** The single login's entry when there is no KIRO_ACCOUNTS_FILE: a pool of one. */
const DEFAULT_ACCOUNT: AccountEntry = {
  id: "default",
  name: "default",
  kind: "refresh_token",
  enabled: true,
};

/**
 * Builds the account pool: every entry of KIRO_ACCOUNTS_FILE, or the one configured login.
 * Throws CredentialsError naming the entry when an account's credentials cannot be used.
 */
async function buildPool(
  config: Readonly<Config>,
  options: PoolBuildOptions,
): Promise<AccountPool> {
  const entries = config.accountsFile !== undefined && !config.demo
    ? await loadAccountEntries(config.accountsFile, { homeDir: options.homeDir })
    : undefined;
  const { counter, metrics } = options;
  const truncation = new TruncationStore();
  const fingerprint = machineFingerprint();
  const publishTokens = options.state.describe().backend === "redis";
  const accounts: PoolAccount[] = [];
  for (const [index, entry] of (entries ?? [DEFAULT_ACCOUNT]).entries()) {
    const refreshErrors = new WeakSet<object>();
    if (!entry.enabled) {
      accounts.push({ entry, refreshErrors });
      continue;
    }
    const accountConfig = entries === undefined ? config : accountConfigOf(config, entry);
    const logger = entries === undefined
      ? options.logger
      : options.logger.child({ account: entry.name });
    let source: TokenSource;
    try {
      source = await createTokenSource(accountConfig, {
        logger,
        fetch: options.fetch,
        now: options.now,
        homeDir: options.homeDir,
        shared: stateSharedTokens(options.state, entry.id, { publishTokens }),
        onRefresh: (result) => metrics.countRefresh(entry.name, result),
      });
    } catch (err) {
      if (!(err instanceof CredentialsError) || entries === undefined) throw err;
      throw new CredentialsError([
        `Cannot use KIRO_ACCOUNTS_FILE entry ${index + 1} ("${entry.name}"): ${err.lines[0]}`,
      ]);
    }
    const tokens = tagRefreshFailures(source, refreshErrors);
    const client = new KiroClient({
      config: accountConfig,
      tokens,
      logger,
      fingerprint,
      fetch: options.fetch,
      onRetry: (reason) => metrics.countRetry(reason),
      ...options.client,
    });
    const models = new ModelCatalog({
      config: accountConfig,
      logger,
      fetch: options.fetch,
      now: options.now,
      fetchAccess: () => tokens.getAccess(),
    });
    const backend = new KiroBackend({
      config: accountConfig,
      client,
      models,
      counter,
      truncation,
      logger,
      now: options.now,
    });
    const fetchUsageNow = async () =>
      await fetchUsage(await tokens.getAccess(), {
        upstream: accountConfig.upstream,
        fetch: options.fetch,
        now: options.now(),
      });
    accounts.push({
      entry,
      refreshErrors,
      parts: { tokens, client, models, backend, fetchUsage: fetchUsageNow },
    });
  }
  if (entries !== undefined) {
    options.logger.info("Using several Kiro accounts", {
      accounts: accounts.filter((a) => a.parts).length,
      disabled: accounts.filter((a) => !a.parts).length,
      strategy: config.accountStrategy,
    });
  }
  return new AccountPool({
    accounts,
    state: options.state,
    strategy: config.accountStrategy,
    cooldownMs: config.accountCooldownMs,
    logger: options.logger,
    now: options.now,
    onFailover: () => options.metrics.countRetry("account_failover"),
  });
}

/** The configuration one account runs with: its own source, profile and regions. */
function accountConfigOf(config: Readonly<Config>, entry: AccountEntry): Readonly<Config> {
  return {
    ...config,
    credsFile: entry.kind === "json" ? entry.path : undefined,
    cliDbFile: entry.kind === "sqlite" ? entry.path : undefined,
    refreshToken: entry.kind === "refresh_token" ? entry.refreshToken : undefined,
    profileArn: entry.profileArn ?? config.profileArn,
    region: entry.region ?? config.region,
    apiRegion: entry.apiRegion ?? config.apiRegion,
  };
}

/** Credential status for the unauthenticated /health: without the file path. */
function withoutPath(status: CredentialStatus): Record<string, unknown> {
  const { path: _path, ...rest } = status;
  return rest;
}

/** A built gateway: its request handler and the parts start-up and shutdown need. */
export interface Gateway {
  handler: (req: Request) => Promise<Response>;
  tokens: TokenSource;
  models: ModelCatalog;
  /** The accounts (one without KIRO_ACCOUNTS_FILE); its snapshot() is for status views. */
  pool: AccountPool;
  state: StateStore;
  /** Stops the heap trimmer, releases the proxy client, if any, and closes the state store. */
  close(): Promise<void>;
}

/**
 * Builds the gateway: credentials (may throw CredentialsError), a fetch that goes through
 * VPN_PROXY_URL when set, the Kiro client and backend, and the server handler.
 */
export async function createGateway(
  config: Readonly<Config>,
  options: GatewayOptions,
): Promise<Gateway> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const proxy = config.proxyUrl
    ? Deno.createHttpClient({ proxy: { url: config.proxyUrl } })
    : undefined;
  const upstreamFetch: typeof fetch = proxy
    ? (input, init) => {
      const proxied: RequestInit & { client: Deno.HttpClient } = { ...init, client: proxy };
      return fetch(input, proxied);
    }
    : fetch;
  const state = options.state ?? await openStateStore(config, { now, logger });
  const metrics = new GatewayMetrics();
  const counter = new TokenCounter();
  let pool: AccountPool;
  try {
    pool = await buildPool(config, {
      logger,
      now,
      fetch: upstreamFetch,
      homeDir: options.homeDir,
      state,
      client: options.client,
      counter,
      metrics,
    });
  } catch (err) {
    await state.close();
    proxy?.close();
    throw err;
  }
  const first = pool.accounts.find((a) => a.parts !== undefined)!.parts!;
  // Web searches go through the pool: an account's own client (token, profile ARN, proxy),
  // healthy accounts first, the next one when a search fails.
  const backend = new WebSearchBackend(pool, {
    mode: config.webSearch,
    logger,
    randomHex,
    countTokens: (text) => counter.count(text),
  });
  const handler = createHandler({
    config,
    logger,
    backend,
    now,
    randomHex,
    startedAt: now(),
    state,
    credentials: { status: () => withoutPath(first.tokens.status()) },
    usage: pool,
    metrics,
    journal: new RequestJournal({ size: config.journalSize }),
    // One login is shown from its token state; several from the pool's stored health.
    accounts: config.accountsFile === undefined || config.demo
      ? singleAccountView(first.tokens, { now, pool })
      : pool,
    modelLabel: catalogModelLabeler(first.models),
    ...options.deps,
  });
  const trimmer = startHeapTrim(logger, () => metrics.activeStreams > 0);
  return {
    handler,
    tokens: first.tokens,
    models: first.models,
    pool,
    state,
    close: async () => {
      trimmer?.stop();
      await pool.close();
      proxy?.close();
      await state.close();
    },
  };
}
