import assert from "node:assert/strict";
import type { ErrorKind } from "../../src/errors.ts";
import { upstreamError } from "../../src/kiro/upstream_errors.ts";

const body = (message: string | null, reason?: string | null) =>
  JSON.stringify(reason === undefined ? { message } : { message, reason });

Deno.test("upstreamError translates Kiro answers", async (t) => {
  const cases: [string, number, string, ErrorKind, RegExp][] = [
    [
      "a context overflow",
      400,
      body("Input is too long.", "CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
      "context_length",
      /context window/,
    ],
    [
      "a used-up monthly quota",
      402,
      body("You have reached the limit.", "MONTHLY_REQUEST_COUNT"),
      "quota_exceeded",
      /monthly request quota/,
    ],
    ["any 402", 402, body("Payment required"), "quota_exceeded", /quota/],
    [
      "the quota reason on another status",
      429,
      body("Limit", "MONTHLY_REQUEST_COUNT"),
      "quota_exceeded",
      /quota/,
    ],
    [
      "an invalid model",
      400,
      body("Invalid model.", "INVALID_MODEL_ID"),
      "invalid_request",
      /model "claude-x".*subscription/,
    ],
    [
      "another 400 reason",
      400,
      body("Invalid tool use format.", "REQUEST_BODY_INVALID"),
      "invalid_request",
      /^Kiro answered HTTP 400: Invalid tool use format \(reason: REQUEST_BODY_INVALID\)$/,
    ],
    [
      "a 400 without reason",
      400,
      body("Bad input"),
      "invalid_request",
      /^Kiro answered HTTP 400: Bad input$/,
    ],
    ["a 401", 401, body("Token expired"), "kiro_auth", /401: Token expired/],
    ["a 403", 403, body("Forbidden"), "permission", /403/],
    ["a 404", 404, body("Not here"), "not_found", /404/],
    [
      "a 429",
      429,
      body("Too many requests", "THROTTLING"),
      "rate_limited",
      /Too many requests \(reason: THROTTLING\)/,
    ],
    ["a 500", 500, body("Internal failure"), "upstream", /500: Internal failure/],
    ["a 502", 502, "<html>bad gateway</html>", "upstream", /502: <html>bad gateway<\/html>/],
    ["a 503", 503, body("Service unavailable"), "overloaded", /503/],
    [
      "a missing message",
      500,
      JSON.stringify({ reason: "X" }),
      "upstream",
      /Unknown error \(reason: X\)/,
    ],
    ["an empty body", 500, "", "upstream", /no details/],
  ];
  for (const [name, status, text, kind, message] of cases) {
    await t.step(name, () => {
      const err = upstreamError(status, text, { modelId: "claude-x" });
      assert.equal(err.kind, kind);
      assert.match(err.message, message);
      assert.equal(err.upstreamStatus, status);
      assert.doesNotMatch(err.message, /\.$/);
    });
  }
});

Deno.test("an improperly formed request names the likely cause", async (t) => {
  for (const reason of [undefined, null, "null", "UNKNOWN"]) {
    await t.step(`with reason ${String(reason)}`, () => {
      const text = body("Improperly formed request.", reason);
      const withCause = upstreamError(400, text, { likelyCause: "likely cause: tool-name: bad" });
      assert.equal(withCause.kind, "invalid_request");
      assert.equal(
        withCause.message,
        "Kiro rejected the request as improperly formed: likely cause: tool-name: bad",
      );
      assert.match(upstreamError(400, text).message, /DEBUG_MODE=errors/);
    });
  }
});

Deno.test("upstreamError caps a long non-JSON body and keeps Retry-After", () => {
  const err = upstreamError(429, `  ${"x".repeat(2000)}  `, { retryAfterSeconds: 7 });
  assert.equal(err.kind, "rate_limited");
  assert.equal(err.retryAfterSeconds, 7);
  assert.ok(err.message.length < 600);
  assert.ok(err.message.endsWith("x…"));
});
