import assert from "node:assert/strict";
import { classifyFailure, cooldownMs, MAX_COOLDOWN_MS } from "../../src/accounts/health.ts";
import { summarizeUsage } from "../../src/accounts/usage.ts";
import { GatewayError } from "../../src/errors.ts";
import { upstreamError } from "../../src/kiro/upstream_errors.ts";

Deno.test("cool-downs double per consecutive failure and stop at a day", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => cooldownMs(60_000, n)), [
    60_000,
    120_000,
    240_000,
    480_000,
  ]);
  assert.equal(cooldownMs(60_000, 11), 60_000 * 1024);
  assert.equal(cooldownMs(60_000, 12), MAX_COOLDOWN_MS);
  assert.equal(cooldownMs(60_000, 500), MAX_COOLDOWN_MS);
});

Deno.test("failures are classified as §6.8 says", async (t) => {
  const cases: [string, GatewayError, boolean, string][] = [
    ["429", upstreamError(429, "{}"), false, "failover"],
    ["402", upstreamError(402, '{"reason":"MONTHLY_REQUEST_COUNT"}'), false, "failover"],
    ["403", upstreamError(403, '{"message":"denied"}'), false, "failover"],
    [
      "403 suspended",
      upstreamError(403, '{"message":"x","reason":"TEMPORARILY_SUSPENDED"}'),
      false,
      "suspended",
    ],
    ["invalid model", upstreamError(400, '{"reason":"INVALID_MODEL_ID"}'), false, "skip"],
    ["own 400", upstreamError(400, '{"message":"Improperly formed request."}'), false, "fatal"],
    [
      "context",
      upstreamError(400, '{"reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}'),
      false,
      "fatal",
    ],
    ["500", upstreamError(500, "{}"), false, "fatal"],
    ["network", new GatewayError("upstream_unreachable", "x"), false, "failover"],
    ["first byte", new GatewayError("upstream_timeout", "x"), false, "failover"],
    ["refresh 400", new GatewayError("kiro_auth", "x", { upstreamStatus: 400 }), true, "dead"],
    ["refresh 401", new GatewayError("kiro_auth", "x", { upstreamStatus: 401 }), true, "dead"],
    ["refresh down", new GatewayError("upstream_unreachable", "x"), true, "failover"],
  ];
  for (const [name, err, fromRefresh, expected] of cases) {
    await t.step(name, () => assert.equal(classifyFailure(err, fromRefresh), expected));
  }
});

Deno.test("usage: precision fields first, active trials and bonuses added, unknown stays unknown", () => {
  const summary = summarizeUsage({
    usageBreakdownList: [{
      usageLimit: 50,
      usageLimitWithPrecision: 50.5,
      currentUsage: 10,
      currentUsageWithPrecision: 10.25,
      freeTrialInfo: {
        freeTrialStatus: "ACTIVE",
        usageLimitWithPrecision: 100,
        currentUsageWithPrecision: 1,
      },
      bonuses: [{ status: "ACTIVE", usageLimit: 5, currentUsage: 0 }, {
        status: "EXPIRED",
        usageLimit: 99,
        currentUsage: 0,
      }],
      nextDateReset: 1_800_000_000,
    }],
  }, 1);
  assert.deepEqual(summary, {
    fetchedAt: 1,
    limit: 155.5,
    used: 11.25,
    remaining: 144.25,
    resetAt: 1_800_000_000_000,
  });
  assert.deepEqual(summarizeUsage({ usageBreakdownList: [{ usageLimit: 5 }] }, 2), {
    fetchedAt: 2,
    limit: 5,
  });
  assert.deepEqual(summarizeUsage("nonsense", 3), { fetchedAt: 3 });
});
