import assert from "node:assert/strict";
import { refreshAwsSsoOidc, refreshKiroDesktop } from "../../src/auth/refresh.ts";
import { GatewayError } from "../../src/errors.ts";
import { refreshUserAgent } from "../../src/kiro/endpoints.ts";
import { startFakeAuth, tokenAnswer } from "./fake_auth.ts";

const HINT = "run `kiro-cli login` and try again";

Deno.test("refreshKiroDesktop posts the refresh token with the Kiro IDE user agent", async () => {
  await using fake = startFakeAuth();
  fake.on("/refreshToken", () =>
    tokenAnswer({
      accessToken: "new-access",
      refreshToken: "new-refresh",
      expiresIn: 1200,
      profileArn: "arn:aws:codewhisperer:us-east-1:1:profile/P",
    }));
  const result = await refreshKiroDesktop(fake.url, {
    refreshToken: "old-refresh",
    fingerprint: "f".repeat(64),
  }, { loginHint: HINT });
  const [req] = fake.requests;
  assert.equal(req?.method, "POST");
  assert.equal(req.path, "/refreshToken");
  assert.deepEqual(req.body, { refreshToken: "old-refresh" });
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.equal(req.headers.get("user-agent"), refreshUserAgent("f".repeat(64)));
  assert.deepEqual(result, {
    accessToken: "new-access",
    refreshToken: "new-refresh",
    expiresInSeconds: 1200,
    profileArn: "arn:aws:codewhisperer:us-east-1:1:profile/P",
  });
});

Deno.test("refreshAwsSsoOidc posts exactly the four camelCase fields as JSON", async () => {
  await using fake = startFakeAuth();
  fake.on("/token", () => tokenAnswer({ accessToken: "a2", tokenType: "Bearer" }));
  const result = await refreshAwsSsoOidc(fake.url, {
    clientId: "client-id",
    clientSecret: "client-secret",
    refreshToken: "r1",
  }, { loginHint: HINT });
  const [req] = fake.requests;
  assert.equal(req?.path, "/token");
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.deepEqual(req.body, {
    grantType: "refresh_token",
    clientId: "client-id",
    clientSecret: "client-secret",
    refreshToken: "r1",
  });
  assert.deepEqual(result, {
    accessToken: "a2",
    refreshToken: undefined,
    expiresInSeconds: 3600,
    profileArn: undefined,
  });
});

Deno.test("refresh failures become gateway errors of the right kind", async (t) => {
  await using fake = startFakeAuth();
  const cases: [string, Response, string, RegExp][] = [
    [
      "400 means the login is dead",
      tokenAnswer(
        { error: "invalid_grant", error_description: "Invalid refresh token provided" },
        400,
      ),
      "kiro_auth",
      /HTTP 400 \(invalid_grant: Invalid refresh token provided\): run `kiro-cli login`/,
    ],
    ["401 means the login is dead", new Response("", { status: 401 }), "kiro_auth", /HTTP 401/],
    ["500 is an upstream failure", new Response("boom", { status: 500 }), "upstream", /HTTP 500/],
    ["an answer without accessToken", tokenAnswer({ expiresIn: 5 }), "upstream", /no accessToken/],
    ["an answer that is not JSON", new Response("<html>"), "upstream", /without JSON/],
  ];
  for (const [name, answer, kind, message] of cases) {
    await t.step(name, async () => {
      fake.on("/refreshToken", () => answer);
      const err = await refreshKiroDesktop(fake.url, { refreshToken: "r", fingerprint: "f" }, {
        loginHint: HINT,
      }).catch((e) => e);
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, kind);
      assert.match(err.message, message);
    });
  }
});

Deno.test("an unreachable refresh host is upstream_unreachable", async () => {
  const closed = startFakeAuth();
  const url = closed.url;
  await closed[Symbol.asyncDispose]();
  const err = await refreshAwsSsoOidc(url, {
    clientId: "i",
    clientSecret: "s",
    refreshToken: "r",
  }, { loginHint: HINT }).catch((e) => e);
  assert.ok(err instanceof GatewayError);
  assert.equal(err.kind, "upstream_unreachable");
  assert.match(err.message, /^Cannot refresh Kiro token: 127\.0\.0\.1:\d+ is unreachable/);
});

Deno.test("a refresh host that does not answer in time is upstream_timeout", async () => {
  await using fake = startFakeAuth();
  const { promise: release, resolve } = Promise.withResolvers<void>();
  fake.on("/refreshToken", async () => {
    await release;
    return tokenAnswer({ accessToken: "late" });
  });
  const err = await refreshKiroDesktop(fake.url, { refreshToken: "r", fingerprint: "f" }, {
    loginHint: HINT,
    timeoutMs: 20,
  }).catch((e) => e);
  resolve();
  assert.ok(err instanceof GatewayError);
  assert.equal(err.kind, "upstream_timeout");
});
