/**
 * What one failed attempt means for the account that made it (spec §6.8), and how long an
 * account rests after failing: pure functions the pool applies.
 */
import type { GatewayError } from "../errors.ts";

/** How the pool treats an attempt's failure. */
export type FailureClass =
  /** The request itself is at fault (its own 400, context length, 5xx): return it, no penalty. */
  | "fatal"
  /** This account cannot serve the model (INVALID_MODEL_ID): next account, no penalty. */
  | "skip"
  /** Throttled, out of credit, refused, unreachable: next account, failure counted. */
  | "failover"
  /** The account is suspended (403 TEMPORARILY_SUSPENDED): next account, long cool-down. */
  | "suspended"
  /** Its refresh token was rejected (400/401): next account; dead until its source changes. */
  | "dead";

/** The longest cool-down, and the one a suspended account gets: a day. */
export const MAX_COOLDOWN_MS = 86_400_000;

/**
 * Classifies a failure before the first byte. `fromRefresh` says the token refresh (not the
 * chat call) failed.
 */
export function classifyFailure(err: GatewayError, fromRefresh: boolean): FailureClass {
  const status = err.upstreamStatus;
  if (fromRefresh) {
    if (err.kind === "kiro_auth" && (status === 400 || status === 401)) return "dead";
    return "failover";
  }
  if (err.upstreamReason === "INVALID_MODEL_ID") return "skip";
  if (status === 403 && isSuspension(err)) return "suspended";
  if (status === 402 || err.kind === "quota_exceeded") return "failover";
  if (status === 401 || status === 403 || status === 429) return "failover";
  if (err.kind === "upstream_unreachable" || err.kind === "upstream_timeout") return "failover";
  return "fatal";
}

function isSuspension(err: GatewayError): boolean {
  return /SUSPENDED/i.test(err.upstreamReason ?? "") || /suspended/i.test(err.message);
}

/** The cool-down after the `failures`-th consecutive failure: base, doubled each time, capped. */
export function cooldownMs(baseMs: number, failures: number): number {
  const doublings = Math.max(0, Math.min(failures - 1, 40));
  return Math.min(baseMs * 2 ** doublings, MAX_COOLDOWN_MS);
}

/** A short reason for /health and the all-failed message: kind, status and message. */
export function describeFailure(err: GatewayError): string {
  const status = err.upstreamStatus === undefined ? "" : ` (HTTP ${err.upstreamStatus})`;
  const message = err.message.length > 160 ? `${err.message.slice(0, 160)}…` : err.message;
  return `${err.kind}${status}: ${message}`;
}
