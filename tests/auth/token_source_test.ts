import assert from "node:assert/strict";
import { join } from "node:path";
import { createTokenSource, type TokenSource } from "../../src/auth/token_source.ts";
import type { Config } from "../../src/config.ts";
import { GatewayError } from "../../src/errors.ts";
import { KIRO_IDE_VERSION } from "../../src/kiro/endpoints.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { tempDir, within } from "../helpers.ts";
import {
  arnIn,
  captureLogger,
  createCliDatabase,
  type FakeAuth,
  fakeClock,
  fakeConfig,
  readAuthKv,
  setAuthKv,
  startFakeAuth,
  tokenAnswer,
} from "./fake_auth.ts";

const T = Date.parse("2026-05-18T12:00:00.000Z");
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const ACCESS_OLD = "aoaOLD-access-token-0123456789abcdef";
const REFRESH_OLD = "aorOLD-refresh-token-0123456789abcdef";
const ACCESS_NEW = "aoaNEW-access-token-0123456789abcdef";
const REFRESH_NEW = "aorNEW-refresh-token-0123456789abcdef";
const CLIENT_SECRET = "eyJraWQi-client-secret-0123456789abcdef";
const ARN = arnIn("us-east-1");

interface Setup {
  fake: FakeAuth;
  clock: { now: () => number; ms: number };
  path: string;
}

async function ideFile(dir: string, fields: Record<string, unknown>): Promise<string> {
  const path = join(dir, "kiro-auth-token.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({ profileArn: ARN, region: "us-east-1", ...fields }, null, 2),
  );
  return path;
}

function open(
  s: Pick<Setup, "fake" | "clock">,
  config: Partial<Config>,
  logger: Logger = silentLogger(),
): Promise<TokenSource> {
  return createTokenSource(fakeConfig(s.fake, config), {
    logger,
    now: s.clock.now,
    homeDir: "/nonexistent",
  });
}

function refreshWith(fake: FakeAuth, path: string, fields: Record<string, unknown> = {}): void {
  fake.on(
    path,
    () =>
      tokenAnswer({
        accessToken: ACCESS_NEW,
        refreshToken: REFRESH_NEW,
        expiresIn: 3600,
        ...fields,
      }),
  );
}

Deno.test("an expiring IDE token is refreshed by the Kiro desktop flow and written back", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  const clock = fakeClock(T);
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: "2026-05-18T11:59:00.000Z",
    provider: "Google",
  });
  refreshWith(fake, "/refreshToken");
  const source = await open({ fake, clock }, { credsFile: path });
  const access = await source.getAccess();
  assert.deepEqual(access, { accessToken: ACCESS_NEW, profileArn: ARN, apiRegion: "us-east-1" });
  const [req] = fake.requests;
  assert.equal(req?.path, "/refreshToken");
  assert.deepEqual(req.body, { refreshToken: REFRESH_OLD });
  assert.match(
    req.headers.get("user-agent") ?? "",
    new RegExp(`^KiroIDE-${KIRO_IDE_VERSION}-[0-9a-f]{64}$`),
  );
  assert.equal(req.headers.get("content-type"), "application/json");
  const expiresAt = "2026-05-18T12:59:00.000Z"; // now + 3600 s - 60 s
  assert.equal(source.status().expiresAt, expiresAt);
  assert.equal(source.status().lastRefreshAt, iso(T));
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
    profileArn: ARN,
    region: "us-east-1",
    accessToken: ACCESS_NEW,
    refreshToken: REFRESH_NEW,
    expiresAt,
    provider: "Google",
  });
});

Deno.test("start-up removes temporary token files an interrupted write-back left", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: "2030-01-01T00:00:00.000Z",
  });
  const uuid = (n: number) => `0000000${n}-1111-4222-8333-444444444444`;
  const stale = join(dir.path, `.kiro-auth-token.json.${uuid(1)}.tmp`);
  const fresh = join(dir.path, `.kiro-auth-token.json.${uuid(2)}.tmp`);
  const otherFile = join(dir.path, `.other.json.${uuid(3)}.tmp`);
  const notOurs = join(dir.path, `.kiro-auth-token.json.backup.tmp`);
  for (const file of [stale, fresh, otherFile, notOurs]) {
    await Deno.writeTextFile(file, '{"accessToken": "half-writ');
  }
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const file of [stale, otherFile, notOurs]) await Deno.utime(file, hourAgo, hourAgo);
  const { logger, lines } = captureLogger();
  await open({ fake, clock: fakeClock(T) }, { credsFile: path }, logger);
  const left = (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).sort();
  assert.deepEqual(left, [
    ".kiro-auth-token.json.00000002-1111-4222-8333-444444444444.tmp", // may be a write in flight
    ".kiro-auth-token.json.backup.tmp",
    ".other.json.00000003-1111-4222-8333-444444444444.tmp",
    "kiro-auth-token.json",
  ]);
  assert.ok(lines.some((line) => /Removed temporary token files/.test(line)), lines.join("\n"));
});

Deno.test("a token is refreshed when it expires within 10 minutes or its expiry is unknown", async (t) => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  refreshWith(fake, "/refreshToken");
  const cases: [string, string | undefined, boolean][] = [
    ["11 minutes left", iso(T + 11 * MIN), false],
    ["exactly 10 minutes left", iso(T + 10 * MIN), true],
    ["9 minutes left", iso(T + 9 * MIN), true],
    ["no expiry", undefined, true],
  ];
  for (const [name, expiresAt, refreshes] of cases) {
    await t.step(name, async () => {
      const path = await ideFile(dir.path, {
        accessToken: ACCESS_OLD,
        refreshToken: REFRESH_OLD,
        expiresAt,
      });
      const before = fake.requests.length;
      const source = await open({ fake, clock: fakeClock(T) }, { credsFile: path });
      const { accessToken } = await source.getAccess();
      assert.equal(accessToken, refreshes ? ACCESS_NEW : ACCESS_OLD);
      assert.equal(fake.requests.length - before, refreshes ? 1 : 0);
    });
  }
});

Deno.test("100 concurrent callers with an expired token cause exactly one refresh", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  const arrived = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  fake.on("/refreshToken", async () => {
    arrived.resolve();
    await release.promise;
    return tokenAnswer({ accessToken: ACCESS_NEW });
  });
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: iso(T - MIN),
  });
  const source = await open({ fake, clock: fakeClock(T) }, { credsFile: path });
  const calls = Array.from({ length: 100 }, () => source.getAccess());
  await within(arrived.promise, 5000, "the refresh call");
  release.resolve();
  const results = await within(Promise.all(calls));
  assert.ok(results.every((r) => r.accessToken === ACCESS_NEW));
  assert.equal(fake.to("/refreshToken").length, 1);
});

Deno.test("forceRefresh after a 403 refreshes once per rejected token", async (t) => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  let n = 0;
  fake.on("/refreshToken", () => tokenAnswer({ accessToken: `access-${++n}-0123456789` }));
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: iso(T + 60 * MIN),
  });
  const source = await open({ fake, clock: fakeClock(T) }, { credsFile: path });
  await t.step("a fresh but rejected token is refreshed", async () => {
    assert.equal((await source.getAccess()).accessToken, ACCESS_OLD);
    assert.equal((await source.forceRefresh(ACCESS_OLD)).accessToken, "access-1-0123456789");
    assert.equal(fake.requests.length, 1);
  });
  await t.step("a token that already changed is not refreshed again", async () => {
    assert.equal((await source.forceRefresh(ACCESS_OLD)).accessToken, "access-1-0123456789");
    assert.equal(fake.requests.length, 1);
  });
  await t.step("concurrent 403s for the same token refresh once", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => source.forceRefresh("access-1-0123456789")),
    );
    assert.ok(results.every((r) => r.accessToken === "access-2-0123456789"));
    assert.equal(fake.requests.length, 2);
  });
});

Deno.test("a refresh answered 400 is a kiro_auth error telling the user how to log in again", async (t) => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  fake.on("/refreshToken", () => tokenAnswer({ error: "invalid_grant" }, 400));
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: iso(T - MIN),
  });
  const cases: [string, Partial<Config>, RegExp][] = [
    [
      "IDE file",
      { credsFile: path },
      /HTTP 400 \(invalid_grant\): sign in to Kiro again in the Kiro IDE/,
    ],
    ["REFRESH_TOKEN", { refreshToken: REFRESH_OLD }, /set REFRESH_TOKEN to the new refresh token/],
  ];
  for (const [name, config, message] of cases) {
    await t.step(name, async () => {
      const source = await open({ fake, clock: fakeClock(T) }, config);
      const err = await source.getAccess().catch((e) => e);
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "kiro_auth");
      assert.match(err.message, message);
      assert.match(source.status().lastError ?? "", /HTTP 400/);
    });
  }
});

Deno.test("an unreachable refresh host is upstream_unreachable", async () => {
  await using dir = await tempDir();
  const closed = startFakeAuth();
  await closed[Symbol.asyncDispose]();
  const path = await ideFile(dir.path, {
    accessToken: ACCESS_OLD,
    refreshToken: REFRESH_OLD,
    expiresAt: iso(T - MIN),
  });
  const source = await open({ fake: closed, clock: fakeClock(T) }, { credsFile: path });
  const err = await source.getAccess().catch((e) => e);
  assert.ok(err instanceof GatewayError);
  assert.equal(err.kind, "upstream_unreachable");
});

const ODIC_ROW = {
  access_token: ACCESS_OLD,
  refresh_token: REFRESH_OLD,
  expires_at: "2026-05-18T11:00:00.123456789Z",
  region: "eu-west-1",
  scopes: ["codewhisperer:conversations"],
  startUrl: "https://example.awsapps.com/start",
};
const REGISTRATION = {
  client_id: "client-id-0123",
  client_secret: CLIENT_SECRET,
  region: "eu-west-1",
};

async function cliDb(dir: string, row: Record<string, unknown> = ODIC_ROW): Promise<string> {
  const path = join(dir, "data.sqlite3");
  await Deno.remove(path).catch(() => {});
  createCliDatabase(path, {
    "kirocli:odic:token": row,
    "kirocli:odic:device-registration": REGISTRATION,
  }, { "api.codewhisperer.profile": { arn: ARN } });
  return path;
}

Deno.test("a kiro-cli login refreshes by AWS SSO OIDC and updates its row", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  refreshWith(fake, "/token");
  const path = await cliDb(dir.path);
  const source = await open({ fake, clock: fakeClock(T) }, { cliDbFile: path });
  assert.deepEqual(await source.getAccess(), {
    accessToken: ACCESS_NEW,
    profileArn: ARN,
    apiRegion: "us-east-1",
  });
  const [req] = fake.requests;
  assert.equal(req?.path, "/token");
  assert.deepEqual(req.body, {
    grantType: "refresh_token",
    clientId: "client-id-0123",
    clientSecret: CLIENT_SECRET,
    refreshToken: REFRESH_OLD,
  });
  assert.deepEqual(readAuthKv(path, "kirocli:odic:token"), {
    ...ODIC_ROW,
    access_token: ACCESS_NEW,
    refresh_token: REFRESH_NEW,
    expires_at: "2026-05-18T12:59:00.000000000Z",
  });
  const status = source.status();
  assert.deepEqual([status.authType, status.ssoRegion, status.apiRegion], [
    "aws_sso_oidc",
    "eu-west-1",
    "us-east-1",
  ]);
});

Deno.test("refresh URLs use the SSO region and requests the API region", async (t) => {
  await using dir = await tempDir();
  const urls: string[] = [];
  const recordingFetch: typeof fetch = (input) => {
    urls.push(String(input));
    return Promise.resolve(tokenAnswer({ accessToken: ACCESS_NEW }));
  };
  const path = await cliDb(dir.path);
  const cases: [string, Partial<Config>, string][] = [
    ["API region from the profile ARN", {}, "us-east-1"],
    ["KIRO_API_REGION wins", { apiRegion: "eu-central-1" }, "eu-central-1"],
  ];
  for (const [name, config, apiRegion] of cases) {
    await t.step(name, async () => {
      const source = await createTokenSource({
        ...fakeConfig({ url: "" }),
        upstream: {},
        cliDbFile: path,
        ...config,
      }, {
        logger: silentLogger(),
        fetch: recordingFetch,
        now: () => T,
        homeDir: "/nonexistent",
      });
      await source.forceRefresh((await source.getAccess()).accessToken);
      assert.equal(urls.at(-1), "https://oidc.eu-west-1.amazonaws.com/token");
      assert.equal((await source.getAccess()).apiRegion, apiRegion);
    });
  }
});

Deno.test("the database is re-read before refreshing: a token kiro-cli rotated is used as is", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  refreshWith(fake, "/token");
  const clock = fakeClock(T - 120 * MIN); // loaded while the token was still fresh
  const path = await cliDb(dir.path, { ...ODIC_ROW, expires_at: iso(T - 60 * MIN) });
  const source = await open({ fake, clock }, { cliDbFile: path });
  assert.equal((await source.getAccess()).accessToken, ACCESS_OLD);
  clock.ms = T;
  setAuthKv(path, "kirocli:odic:token", {
    ...ODIC_ROW,
    access_token: "rotated-by-kiro-cli",
    expires_at: iso(T + 50 * MIN),
  });
  assert.equal((await source.getAccess()).accessToken, "rotated-by-kiro-cli");
  assert.equal(fake.requests.length, 0);
});

Deno.test("an OIDC 400 reloads the database and retries once with its refresh token", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  const path = await cliDb(dir.path);
  fake.on("/token", (_req, index) => {
    if (index > 0) return tokenAnswer({ accessToken: ACCESS_NEW });
    // kiro-cli rotated the refresh token while we were asking
    setAuthKv(path, "kirocli:odic:token", { ...ODIC_ROW, refresh_token: "rotated-refresh-token" });
    return tokenAnswer({ error: "invalid_grant" }, 400);
  });
  const source = await open({ fake, clock: fakeClock(T) }, { cliDbFile: path });
  assert.equal((await source.getAccess()).accessToken, ACCESS_NEW);
  const bodies = fake.to("/token").map((r) => (r.body as { refreshToken: string }).refreshToken);
  assert.deepEqual(bodies, [REFRESH_OLD, "rotated-refresh-token"]);
  assert.equal(readAuthKv(path, "kirocli:odic:token")?.refresh_token, "rotated-refresh-token");
});

Deno.test("a failed refresh keeps a still-valid token with a warning, and fails once it expired", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  fake.on("/token", () => tokenAnswer({ error: "invalid_grant" }, 400));
  const path = await cliDb(dir.path, { ...ODIC_ROW, expires_at: iso(T + 5 * MIN) });
  const clock = fakeClock(T);
  const { logger, lines } = captureLogger();
  const source = await open({ fake, clock }, { cliDbFile: path }, logger);
  assert.equal((await source.getAccess()).accessToken, ACCESS_OLD);
  assert.ok(
    lines.some((l) =>
      /WARN\s+Token refresh failed; using the current access token until it expires: run `kiro-cli login`/
        .test(l)
    ),
  );
  assert.equal(fake.requests.length, 1);
  clock.ms = T + 30_000; // within the back-off: no new attempt
  assert.equal((await source.getAccess()).accessToken, ACCESS_OLD);
  assert.equal(fake.requests.length, 1);
  clock.ms = T + 6 * MIN; // expired
  const err = await source.getAccess().catch((e) => e);
  assert.ok(err instanceof GatewayError);
  assert.equal(err.kind, "kiro_auth");
  assert.match(err.message, /run `kiro-cli login` and try again/);
});

Deno.test("SQLITE_READONLY keeps refreshed tokens in memory with one log line", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  let n = 0;
  fake.on("/token", () => tokenAnswer({ accessToken: `access-${++n}-0123456789` }));
  const path = await cliDb(dir.path);
  const { logger, lines } = captureLogger();
  const source = await open({ fake, clock: fakeClock(T) }, {
    cliDbFile: path,
    sqliteReadonly: true,
  }, logger);
  const first = await source.getAccess();
  await source.forceRefresh(first.accessToken);
  assert.equal(fake.requests.length, 2);
  assert.equal(lines.filter((l) => l.includes("SQLITE_READONLY")).length, 1);
  assert.deepEqual(readAuthKv(path, "kirocli:odic:token"), ODIC_ROW);
});

Deno.test("a missing profile ARN is discovered once with ListAvailableProfiles", async (t) => {
  await using fake = startFakeAuth();
  refreshWith(fake, "/refreshToken");
  await t.step("the first profile is used and cached", async () => {
    fake.on(
      "/ListAvailableProfiles",
      () => Response.json({ profiles: [{ arn: arnIn("eu-central-1") }] }),
    );
    const source = await open({ fake, clock: fakeClock(T) }, { refreshToken: REFRESH_OLD });
    const [a, b] = await Promise.all([source.getAccess(), source.getAccess()]);
    assert.deepEqual(a, {
      accessToken: ACCESS_NEW,
      profileArn: arnIn("eu-central-1"),
      apiRegion: "eu-central-1",
    });
    assert.deepEqual(b, a);
    await source.getAccess();
    const calls = fake.to("/ListAvailableProfiles");
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.headers.get("authorization"), `Bearer ${ACCESS_NEW}`);
  });
  await t.step("PROFILE_ARN makes discovery unnecessary", async () => {
    const source = await open({ fake, clock: fakeClock(T) }, {
      refreshToken: REFRESH_OLD,
      profileArn: arnIn("us-east-1"),
    });
    assert.equal((await source.getAccess()).profileArn, arnIn("us-east-1"));
    assert.equal(fake.to("/ListAvailableProfiles").length, 1);
  });
  await t.step("a failed discovery explains how to set PROFILE_ARN", async () => {
    fake.on("/ListAvailableProfiles", () => new Response("nope", { status: 403 }));
    const source = await open({ fake, clock: fakeClock(T) }, { refreshToken: REFRESH_OLD });
    const err = await source.getAccess().catch((e) => e);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, "kiro_auth");
    assert.match(
      err.message,
      /^No Kiro profile ARN is known .*: set PROFILE_ARN to your Kiro profile ARN/,
    );
  });
});

Deno.test("tokens and secrets never reach the log or status()", async () => {
  await using dir = await tempDir();
  await using fake = startFakeAuth();
  let n = 0;
  fake.on(
    "/token",
    () =>
      n++ === 0
        ? tokenAnswer({ error: "invalid_grant" }, 400)
        : tokenAnswer({ accessToken: ACCESS_NEW, refreshToken: REFRESH_NEW }),
  );
  const path = await cliDb(dir.path, { ...ODIC_ROW, expires_at: iso(T + 5 * MIN) });
  const { logger, lines } = captureLogger();
  const clock = fakeClock(T);
  const source = await open({ fake, clock }, { cliDbFile: path }, logger);
  await source.getAccess(); // fails, degrades with a warning
  clock.ms = T + 2 * MIN;
  await source.getAccess(); // refreshes
  assert.equal(n, 2);
  const seen = [...lines, JSON.stringify(source.status())].join("\n");
  for (const secret of [ACCESS_OLD, REFRESH_OLD, ACCESS_NEW, REFRESH_NEW, CLIENT_SECRET]) {
    assert.ok(!seen.includes(secret), `a secret leaked: ${secret.slice(0, 6)}`);
  }
  assert.ok(lines.length >= 3);
});

Deno.test("demo mode hands out a fixed token without credentials", async () => {
  const source = await createTokenSource(
    fakeConfig({ url: "http://127.0.0.1:9" }, { demo: true }),
    { logger: silentLogger() },
  );
  const access = await source.getAccess();
  assert.equal((await source.forceRefresh(access.accessToken)).accessToken, access.accessToken);
  assert.equal(source.status().source, "demo");
});
