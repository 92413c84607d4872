/**
 * Each credential source, end to end in the real server process under the start task's exact
 * permissions: an expired token is refreshed against the fake upstream, the chat request goes
 * through with the new token, and the refreshed token is written back where it came from.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { createCliDatabase, readAuthKv } from "../auth/fake_auth.ts";
import { type FakeKiro, GENERATE_PATH, startFakeKiro } from "../fake_kiro.ts";
import { tempDir } from "../helpers.ts";
import { kiroUrlsEnv, spawnGateway } from "./gateway_process.ts";

const API_KEY = "sources-test-key-0123456789";
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/SOURCES";
const EXPIRED = "2020-01-01T00:00:00.000Z";

/** A fake Kiro whose two refresh endpoints hand out `fresh-<flow>` access tokens. */
async function kiroWithRefresh(): Promise<FakeKiro> {
  const kiro = await startFakeKiro();
  kiro.route(
    "POST",
    "/refreshToken",
    () => Response.json({ accessToken: "fresh-desktop", refreshToken: "rotated", expiresIn: 3600 }),
  );
  kiro.route("POST", "/token", () =>
    Response.json({
      accessToken: "fresh-oidc",
      refreshToken: "rotated",
      expiresIn: 3600,
      tokenType: "Bearer",
    }));
  return kiro;
}

async function chatThrough(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "auto-kiro", messages: [{ role: "user", content: "Hi" }] }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.choices[0].message.content;
}

async function sandbox(root: string) {
  const base = resolve(root);
  const cwd = join(base, "work");
  const home = join(base, "home");
  await Deno.mkdir(cwd, { recursive: true });
  await Deno.mkdir(join(home, ".aws", "sso", "cache"), { recursive: true });
  await Deno.mkdir(join(home, ".local", "share", "kiro-cli"), { recursive: true });
  return { cwd, home };
}

/** Writes an expired token file into ~/.aws/sso/cache with `extra` fields; returns its path. */
async function writeExpiredCacheFile(
  home: string,
  name: string,
  extra: Record<string, string>,
): Promise<string> {
  const file = join(home, ".aws", "sso", "cache", name);
  const token = { accessToken: "stale", refreshToken: "aorOLD", expiresAt: EXPIRED };
  await Deno.writeTextFile(file, JSON.stringify({ ...token, region: "us-east-1", ...extra }));
  return file;
}

function env(kiro: FakeKiro, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PROXY_API_KEY: API_KEY,
    ...kiroUrlsEnv(kiro.url),
    ...extra,
  };
}

function authorizationOf(kiro: FakeKiro): string | undefined {
  return kiro.requests.find((r) => r.path === GENERATE_PATH)?.headers.authorization;
}

Deno.test("every credential source works under the start task's permissions", async (t) => {
  await t.step("the Kiro IDE token file, discovered in HOME and written back", async () => {
    await using tmp = await tempDir();
    const { cwd, home } = await sandbox(tmp.path);
    const file = await writeExpiredCacheFile(home, "kiro-auth-token.json", {
      profileArn: ARN,
      provider: "Github",
    });
    await using kiro = await kiroWithRefresh();
    await using gateway = spawnGateway({ cwd, home, env: env(kiro), args: ["--port", "0"] });
    assert.match(await chatThrough(await gateway.waitForUrl()), /fake Kiro/);
    assert.equal(authorizationOf(kiro), "Bearer fresh-desktop");
    const written = JSON.parse(await Deno.readTextFile(file));
    assert.equal(written.accessToken, "fresh-desktop");
    assert.equal(written.refreshToken, "rotated");
    assert.equal(written.provider, "Github", "unknown fields are kept");
    assert.match(written.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  });

  await t.step("an AWS SSO cache file with a client registration (OIDC flow)", async () => {
    await using tmp = await tempDir();
    const { cwd, home } = await sandbox(tmp.path);
    const file = await writeExpiredCacheFile(home, "builder-id.json", {
      clientId: "client-1",
      clientSecret: "secret-1",
    });
    await using kiro = await kiroWithRefresh();
    await using gateway = spawnGateway({
      cwd,
      home,
      env: env(kiro, { KIRO_CREDS_FILE: file, PROFILE_ARN: ARN }),
      args: ["--port", "0"],
    });
    await chatThrough(await gateway.waitForUrl());
    assert.equal(authorizationOf(kiro), "Bearer fresh-oidc");
    const refresh = kiro.requests.find((r) => r.path === "/token");
    assert.deepEqual(refresh?.body, {
      grantType: "refresh_token",
      clientId: "client-1",
      clientSecret: "secret-1",
      refreshToken: "aorOLD",
    });
    assert.equal(JSON.parse(await Deno.readTextFile(file)).accessToken, "fresh-oidc");
  });

  await t.step("the kiro-cli database, discovered in HOME and written back", async () => {
    await using tmp = await tempDir();
    const { cwd, home } = await sandbox(tmp.path);
    const db = join(home, ".local", "share", "kiro-cli", "data.sqlite3");
    createCliDatabase(db, {
      "kirocli:odic:token": {
        access_token: "stale",
        refresh_token: "aorOLD",
        expires_at: "2020-01-01T00:00:00.123456789Z",
        region: "us-east-1",
        startUrl: "https://view.awsapps.com/start",
      },
      "kirocli:odic:device-registration": {
        client_id: "client-db",
        client_secret: "secret-db",
        region: "us-east-1",
      },
    }, { "api.codewhisperer.profile": { arn: ARN } });
    await using kiro = await kiroWithRefresh();
    await using gateway = spawnGateway({ cwd, home, env: env(kiro), args: ["--port", "0"] });
    await chatThrough(await gateway.waitForUrl());
    assert.equal(authorizationOf(kiro), "Bearer fresh-oidc");
    const sent = kiro.requests.find((r) => r.path === GENERATE_PATH)!.body as {
      profileArn: string;
    };
    assert.equal(sent.profileArn, ARN);
    await gateway.stop();
    const row = readAuthKv(db, "kirocli:odic:token")!;
    assert.equal(row.access_token, "fresh-oidc");
    assert.equal(row.refresh_token, "rotated");
    assert.equal(row.startUrl, "https://view.awsapps.com/start", "unknown keys are kept");
  });

  await t.step("a refresh token in the environment", async () => {
    await using tmp = await tempDir();
    const { cwd, home } = await sandbox(tmp.path);
    await using kiro = await kiroWithRefresh();
    await using gateway = spawnGateway({
      cwd,
      home,
      env: env(kiro, { REFRESH_TOKEN: "aorENV", PROFILE_ARN: ARN }),
      args: ["--port", "0"],
    });
    await chatThrough(await gateway.waitForUrl());
    assert.equal(authorizationOf(kiro), "Bearer fresh-desktop");
    assert.deepEqual(kiro.requests.find((r) => r.path === "/refreshToken")?.body, {
      refreshToken: "aorENV",
    });
  });
});
