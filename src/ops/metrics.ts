/**
 * The gateway's Prometheus series (README "Metrics"). One GatewayMetrics per gateway, made in
 * app.ts; the server feeds it each finished request, the Kiro client its retries, the token
 * source its refreshes. Label values are bounded: routes come from the route table, models
 * from the catalogue (else `other`), accounts from the operator's configuration.
 */
import type { RetryReason } from "../kiro/client.ts";
import { type AccountsView, isAccountUp } from "./accounts.ts";
import type { RequestRecord } from "./journal.ts";
import { type Counter, type Gauge, type Histogram, MetricRegistry } from "./prometheus.ts";

/** Why a Kiro call was tried again: the client's reasons, or the pool moving to another account. */
export type UpstreamRetryReason = RetryReason | "account_failover";

/** How a token refresh ended. */
export type RefreshResult = "success" | "failure";

/** Upper bounds of the request duration histogram, in seconds (answers stream for minutes). */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Upper bounds of the time-to-first-byte histogram, in seconds. */
const TTFB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60];

/** The counters, gauges and histograms of one gateway. */
export class GatewayMetrics {
  #registry = new MetricRegistry();
  #requests: Counter;
  #duration: Histogram;
  #ttfb: Histogram;
  #activeStreams: Gauge;
  #tokens: Counter;
  #credits: Counter;
  #refreshes: Counter;
  #retries: Counter;
  #accountUp: Gauge;
  #truncations: Counter;
  #webSearches: Counter;

  constructor() {
    const r = this.#registry;
    this.#requests = r.counter(
      "kiro_gateway_requests_total",
      "Finished HTTP requests by route and status.",
      ["route", "status"],
    );
    this.#duration = r.histogram(
      "kiro_gateway_request_duration_seconds",
      "Time from a request's arrival to the end of its response body.",
      { labelNames: ["route"], buckets: DURATION_BUCKETS },
    );
    this.#ttfb = r.histogram(
      "kiro_gateway_time_to_first_byte_seconds",
      "Time from a request's arrival to the first response body byte sent.",
      { labelNames: ["route"], buckets: TTFB_BUCKETS },
    );
    this.#activeStreams = r.gauge(
      "kiro_gateway_active_streams",
      "Streamed replies being sent right now.",
    );
    this.#tokens = r.counter(
      "kiro_gateway_tokens_total",
      "Tokens of finished chats by direction (input or output) and Kiro model id.",
      ["direction", "model"],
    );
    this.#credits = r.counter(
      "kiro_gateway_credits_total",
      "Kiro credits charged by model.",
      ["model"],
    );
    this.#refreshes = r.counter(
      "kiro_gateway_token_refreshes_total",
      "Kiro access token refreshes by account and result (success or failure).",
      ["account", "result"],
    );
    this.#retries = r.counter(
      "kiro_gateway_upstream_retries_total",
      "Kiro calls tried again before the first byte (on the same account or the next), by reason.",
      ["reason"],
    );
    this.#accountUp = r.gauge(
      "kiro_gateway_account_up",
      "Whether an account can serve requests now (1) or not (0).",
      ["account"],
    );
    this.#truncations = r.counter(
      "kiro_gateway_truncations_total",
      "Replies Kiro cut off at its output limit.",
    );
    this.#webSearches = r.counter(
      "kiro_gateway_web_searches_total",
      "Web searches the gateway ran for clients.",
    );
  }

  /** Counts one finished request. */
  recordRequest(record: RequestRecord): void {
    const route = { route: record.route };
    this.#requests.inc({ route: record.route, status: String(record.status) });
    this.#duration.observe(record.durationMs / 1000, route);
    if (record.ttfbMs !== undefined) this.#ttfb.observe(record.ttfbMs / 1000, route);
    if (record.model !== undefined) {
      const model = record.model;
      if (record.inputTokens !== undefined) {
        this.#tokens.inc({ direction: "input", model }, record.inputTokens);
      }
      if (record.outputTokens !== undefined) {
        this.#tokens.inc({ direction: "output", model }, record.outputTokens);
      }
      if (record.credits !== undefined) this.#credits.inc({ model }, record.credits);
    }
    if (record.truncated) this.#truncations.inc();
  }

  /** Counts a streamed reply starting (+1) or ending (-1). */
  streamsChanged(by: 1 | -1): void {
    this.#activeStreams.add(by);
  }

  /** Counts one retry of a Kiro call. */
  countRetry(reason: UpstreamRetryReason): void {
    this.#retries.inc({ reason });
  }

  /** Counts one token refresh of `account`. */
  countRefresh(account: string, result: RefreshResult): void {
    this.#refreshes.inc({ account, result });
  }

  /** Counts one web search run for a client. */
  countWebSearch(): void {
    this.#webSearches.inc();
  }

  /** Streamed replies being sent now. */
  get activeStreams(): number {
    return this.#activeStreams.value();
  }

  /** Renders every series in the Prometheus text format, reading `accounts` first. */
  async render(accounts: AccountsView): Promise<string> {
    const snapshot = await accounts.snapshot();
    this.#accountUp.collectWith(() =>
      snapshot.map((account) => [{ account: account.name }, isAccountUp(account) ? 1 : 0])
    );
    return this.#registry.render();
  }
}
