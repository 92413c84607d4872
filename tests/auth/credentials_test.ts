import assert from "node:assert/strict";
import { authTypeOf, formatExpiry, parseExpiry, regionOfArn } from "../../src/auth/credentials.ts";

const T = Date.parse("2026-05-18T12:34:56.789Z");

Deno.test("parseExpiry reads every timestamp style the sources write", async (t) => {
  const cases: [string, unknown, number | undefined][] = [
    ["IDE milliseconds with Z", "2026-05-18T12:34:56.789Z", T],
    ["kiro-cli nanoseconds", "2026-05-18T12:34:56.789123456Z", T],
    ["Python offset", "2026-05-18T12:34:56.789+00:00", T],
    ["another offset", "2026-05-18T14:34:56.789+0200", T],
    ["no zone is UTC", "2026-05-18T12:34:56.789", T],
    ["whole seconds", "2026-05-18T12:34:56Z", T - 789],
    ["epoch seconds", 1779107696, 1779107696000],
    ["epoch milliseconds", T, T],
    ["garbage", "tomorrow", undefined],
    ["null", null, undefined],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(parseExpiry(input), expected));
  }
});

Deno.test("formatExpiry writes the style of the value it replaces", async (t) => {
  const cases: [string, unknown, string][] = [
    ["IDE style", "2026-01-01T00:00:00.000Z", "2026-05-18T12:34:56.789Z"],
    ["nanoseconds", "2026-01-01T00:00:00.123456789Z", "2026-05-18T12:34:56.789000000Z"],
    [
      "Python offset with microseconds",
      "2026-01-01T00:00:00.123456+00:00",
      "2026-05-18T12:34:56.789000+00:00",
    ],
    ["whole seconds", "2026-01-01T00:00:00Z", "2026-05-18T12:34:56Z"],
    ["no sample uses the IDE style", undefined, "2026-05-18T12:34:56.789Z"],
  ];
  for (const [name, sample, expected] of cases) {
    await t.step(name, () => assert.equal(formatExpiry(T, sample), expected));
  }
});

Deno.test("regionOfArn takes the fourth part only when it is a region", () => {
  assert.equal(
    regionOfArn("arn:aws:codewhisperer:eu-central-1:123456789012:profile/X"),
    "eu-central-1",
  );
  assert.equal(regionOfArn("arn:aws:codewhisperer:nowhere:1:profile/X"), undefined);
  assert.equal(regionOfArn(undefined), undefined);
});

Deno.test("authTypeOf needs both a client id and a secret for AWS SSO OIDC", () => {
  assert.equal(authTypeOf({ clientId: "id", clientSecret: "secret" }), "aws_sso_oidc");
  assert.equal(authTypeOf({ clientId: "id" }), "kiro_desktop");
  assert.equal(authTypeOf({ refreshToken: "r" }), "kiro_desktop");
});
