/**
 * An account's credit from GetUsageLimits (spec §9.5, §7.9): fetched on the Q host, summarized
 * from the first usage breakdown (the main credit allowance), `*WithPrecision` fields first
 * because Kiro meters to 0.01 credit. A value Kiro did not send stays unknown: it is never
 * read as 0, so an account is only skipped for credit when Kiro said it has none.
 */
import type { KiroAccess } from "../auth/token_source.ts";
import { GatewayError } from "../errors.ts";
import { kiroUserAgents, machineFingerprint, qBaseUrl } from "../kiro/endpoints.ts";
import type { UpstreamOverrides } from "../config.ts";

/** What the pool and GET /v1/usage know of an account's credit; every field may be unknown. */
export interface UsageSummary {
  planName?: string;
  /** Credit used this period. */
  used?: number;
  /** Credit allowed this period (plan, active free trial and active bonuses). */
  limit?: number;
  /** limit − used, when both are known. */
  remaining?: number;
  /** Whether usage beyond the limit is billed as overage (true) or refused (false). */
  overageAllowed?: boolean;
  /** When the period resets, epoch milliseconds. */
  resetAt?: number;
  /** When this summary was fetched, epoch milliseconds. */
  fetchedAt: number;
}

/** How long a fetched summary is used before it is fetched again. */
export const USAGE_CACHE_MS = 5 * 60_000;

const USAGE_TIMEOUT_MS = 10_000;

/** Options of fetchUsage. */
export interface FetchUsageOptions {
  upstream: UpstreamOverrides;
  fetch?: typeof fetch;
  now: number;
}

/** Calls GetUsageLimits for `access`; rejects with a GatewayError when Kiro does not answer. */
export async function fetchUsage(
  access: KiroAccess,
  options: FetchUsageOptions,
): Promise<UsageSummary> {
  const url = new URL(`${qBaseUrl(access.apiRegion, options.upstream)}/getUsageLimits`);
  url.searchParams.set("origin", "AI_EDITOR");
  url.searchParams.set("resourceType", "AGENTIC_REQUEST");
  if (access.profileArn) url.searchParams.set("profileArn", access.profileArn);
  const agents = kiroUserAgents(machineFingerprint());
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      headers: {
        authorization: `Bearer ${access.accessToken}`,
        accept: "application/json",
        "user-agent": agents.userAgent,
        "x-amz-user-agent": agents.amzUserAgent,
      },
      signal: AbortSignal.timeout(USAGE_TIMEOUT_MS),
    });
  } catch (err) {
    throw new GatewayError("upstream_unreachable", `Cannot reach Kiro for usage limits: ${err}`, {
      cause: err,
    });
  }
  const text = await res.text();
  if (!res.ok) {
    throw new GatewayError("upstream", `GetUsageLimits answered HTTP ${res.status}`, {
      upstreamStatus: res.status,
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError(
      "upstream_protocol",
      "GetUsageLimits answered with a body that is not JSON",
    );
  }
  return summarizeUsage(body, options.now);
}

/** Summarizes a GetUsageLimits answer; fields it lacks stay undefined. */
export function summarizeUsage(body: unknown, now: number): UsageSummary {
  const summary: UsageSummary = { fetchedAt: now };
  if (!isRecord(body)) return summary;
  const subscription = isRecord(body.subscriptionInfo) ? body.subscriptionInfo : {};
  if (typeof subscription.subscriptionTitle === "string") {
    summary.planName = subscription.subscriptionTitle;
  }
  const breakdown = Array.isArray(body.usageBreakdownList) && isRecord(body.usageBreakdownList[0])
    ? body.usageBreakdownList[0]
    : undefined;
  if (breakdown) {
    let limit = precise(breakdown, "usageLimit");
    let used = precise(breakdown, "currentUsage");
    const extras = [
      isRecord(breakdown.freeTrialInfo) && breakdown.freeTrialInfo.freeTrialStatus === "ACTIVE"
        ? breakdown.freeTrialInfo
        : undefined,
      ...(Array.isArray(breakdown.bonuses) ? breakdown.bonuses : []).filter((b) =>
        isRecord(b) && (b.status === undefined || b.status === "ACTIVE")
      ),
    ];
    for (const extra of extras) {
      if (!isRecord(extra)) continue;
      const extraLimit = precise(extra, "usageLimit");
      const extraUsed = precise(extra, "currentUsage");
      if (limit !== undefined && extraLimit !== undefined) limit += extraLimit;
      if (used !== undefined && extraUsed !== undefined) used += extraUsed;
    }
    if (limit !== undefined) summary.limit = round(limit);
    if (used !== undefined) summary.used = round(used);
    if (limit !== undefined && used !== undefined) summary.remaining = round(limit - used);
    const reset = epochMs(breakdown.nextDateReset);
    if (reset !== undefined) summary.resetAt = reset;
  }
  const reset = epochMs(body.nextDateReset);
  if (reset !== undefined) summary.resetAt = reset;
  const overage = isRecord(body.overageConfiguration)
    ? body.overageConfiguration.overageStatus
    : undefined;
  if (overage === "ENABLED") summary.overageAllowed = true;
  if (overage === "DISABLED") summary.overageAllowed = false;
  return summary;
}

/** `<name>WithPrecision`, else `<name>`, when it is a finite number. */
function precise(obj: Record<string, unknown>, name: string): number | undefined {
  for (const value of [obj[`${name}WithPrecision`], obj[name]]) {
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

function epochMs(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  return value > 1e12 ? value : value * 1000;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
