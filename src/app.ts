/**
 * The composition root: builds every long-lived part of a gateway from its configuration.
 * main.ts serves what this returns; end-to-end tests use it the same way, with fake upstreams.
 */
import { createTokenSource, type TokenSource } from "./auth/token_source.ts";
import type { Config } from "./config.ts";
import { randomHex } from "./core/ids.ts";
import { TokenCounter } from "./core/tokens.ts";
import { TruncationStore } from "./core/truncation.ts";
import { WebSearchBackend } from "./core/web_search.ts";
import { KiroBackend } from "./kiro/backend.ts";
import { KiroClient } from "./kiro/client.ts";
import { machineFingerprint } from "./kiro/endpoints.ts";
import { KiroWebSearch } from "./kiro/mcp.ts";
import { ModelCatalog } from "./kiro/models.ts";
import type { Logger } from "./log.ts";
import { DEFAULT_ACCOUNT, singleAccountView } from "./ops/accounts.ts";
import { RequestJournal } from "./ops/journal.ts";
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
}

/** A built gateway: its request handler and the parts start-up and shutdown need. */
export interface Gateway {
  handler: (req: Request) => Promise<Response>;
  tokens: TokenSource;
  models: ModelCatalog;
  state: StateStore;
  /** The Prometheus series of this gateway (GET /metrics). */
  metrics: GatewayMetrics;
  /** Releases the proxy client, if any, and closes the state store. */
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
  const tokens = await createTokenSource(config, {
    logger,
    fetch: upstreamFetch,
    now,
    homeDir: options.homeDir,
    onRefresh: (result) => metrics.countRefresh(DEFAULT_ACCOUNT, result),
  });
  const client = new KiroClient({
    config,
    tokens,
    logger,
    fingerprint: machineFingerprint(),
    fetch: upstreamFetch,
    onRetry: (reason) => metrics.countRetry(reason),
  });
  const models = new ModelCatalog({
    config,
    logger,
    fetch: upstreamFetch,
    now,
    fetchAccess: () => tokens.getAccess(),
  });
  const counter = new TokenCounter();
  const kiroBackend = new KiroBackend({
    config,
    client,
    models,
    counter,
    truncation: new TruncationStore(),
    logger,
    now,
  });
  // The MCP call goes through the same client (account, token, proxy) as the chat calls.
  const backend = new WebSearchBackend(kiroBackend, {
    mode: config.webSearch,
    searcher: new KiroWebSearch(client, { now }),
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
    credentials: { status: () => ({ ...tokens.status() }) },
    metrics,
    journal: new RequestJournal({ size: config.journalSize }),
    accounts: singleAccountView(tokens, now),
    modelLabel: catalogModelLabeler(models),
    ...options.deps,
  });
  return {
    handler,
    tokens,
    models,
    state,
    metrics,
    close: async () => {
      proxy?.close();
      await state.close();
    },
  };
}
