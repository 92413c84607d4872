/**
 * The operator routes: GET /metrics (Prometheus text), GET /status.json (journal, accounts,
 * totals) and GET /status (the page). The server checks the key for the first two; the page
 * itself holds no data and asks for /status.json with the key.
 */
import { VERSION } from "../config.ts";
import { accountsHealth, type AccountsView } from "./accounts.ts";
import type { RequestJournal } from "./journal.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { statusPageResponse } from "./status_page.ts";

/** What the operator routes read; one of each per gateway. */
export interface OpsViews {
  metrics: GatewayMetrics;
  journal: RequestJournal;
  accounts: AccountsView;
  /** The clock in epoch milliseconds. */
  now: () => number;
  /** When the gateway started, in epoch milliseconds. */
  startedAt: number;
  /** Random hex, for the page's CSP nonce. */
  randomHex: (bytes: number) => string;
}

/** Answers GET /metrics. */
export async function metricsResponse(views: OpsViews): Promise<Response> {
  return new Response(await views.metrics.render(views.accounts), {
    headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
  });
}

/** Answers GET /status.json: health, accounts, per-minute counts, totals, recent requests. */
export async function statusJsonResponse(views: OpsViews): Promise<Response> {
  const accounts = await views.accounts.snapshot();
  const now = views.now();
  const byModel = views.journal.totals();
  const body = {
    health: {
      status: accountsHealth(accounts),
      version: VERSION,
      startedAt: new Date(views.startedAt).toISOString(),
      now: new Date(now).toISOString(),
      uptimeSeconds: Math.floor((now - views.startedAt) / 1000),
    },
    activeStreams: views.metrics.activeStreams,
    accounts,
    requestsPerMinute: views.journal.perMinute(now),
    totals: { ...views.journal.counts(), byModel },
    journalSize: views.journal.size,
    recent: views.journal.recent(),
  };
  return Response.json(body, { headers: { "cache-control": "no-store" } });
}

/** Answers GET /status with a fresh CSP nonce. */
export function statusPage(views: OpsViews): Promise<Response> {
  return Promise.resolve(statusPageResponse(views.randomHex(16)));
}
