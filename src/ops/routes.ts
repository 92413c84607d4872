/**
 * The operator routes: GET /metrics (Prometheus text), GET /status.json (journal, accounts,
 * totals) and GET /status (the page). The server checks the key for the first two; the page
 * itself holds no data and asks for /status.json with the key.
 */
import { VERSION } from "../config.ts";
import type { AccountsView } from "./accounts.ts";
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
export function metricsResponse(views: OpsViews): Response {
  return new Response(views.metrics.render(), {
    headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
  });
}

/** Answers GET /status.json: health, accounts, per-minute counts, totals, recent requests. */
export function statusJsonResponse(views: OpsViews): Response {
  const now = views.now();
  const accounts = views.accounts();
  const byModel = views.journal.totals();
  const healthy = accounts.length === 0 || accounts.some((account) => account.up);
  const body = {
    health: {
      status: healthy ? "healthy" : "degraded",
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
export function statusPage(views: OpsViews): Response {
  return statusPageResponse(views.randomHex(16));
}
