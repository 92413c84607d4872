/**
 * Three real gateway processes sharing one real redis-server, in front of one fake Kiro whose
 * refresh tokens work once, with two accounts and balanced selection: each account is refreshed
 * once for all instances, cool-downs and stored responses are shared, losing an instance or
 * Redis loses no request, and Redis never holds a readable token.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { textFrame } from "../frames.ts";
import { tempDir, within } from "../helpers.ts";
import { RedisServer } from "../state/redis_server.ts";
import {
  initialTokens,
  type Instance,
  type RotatingKiro,
  spawnInstance,
  startRotatingKiro,
} from "./instances.ts";

const API_KEY = "instances-test-key-0123456789";
const SECRET = "instances test shared secret";
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/INSTANCES";
const EXPIRED = "2020-01-01T00:00:00.000Z";
const ACCOUNTS = ["one", "two"];

async function chat(instance: Instance, content = "Hi"): Promise<{ status: number; text: string }> {
  const res = await fetch(`${instance.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "auto-kiro", messages: [{ role: "user", content }] }),
  });
  const body = await res.json();
  return {
    status: res.status,
    text: res.status === 200 ? body.choices[0].message.content : JSON.stringify(body),
  };
}

/** A streaming chat: the text of its deltas, and the error if the stream broke. */
async function streamChat(instance: Instance): Promise<{ text: string; error?: string }> {
  let text = "";
  try {
    const res = await fetch(`${instance.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "auto-kiro",
        stream: true,
        messages: [{ role: "user", content: "Stream please" }],
      }),
    });
    const body = await res.text();
    for (const line of body.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      const chunk = JSON.parse(line.slice(6));
      if (chunk.error) return { text, error: JSON.stringify(chunk.error) };
      text += chunk.choices?.[0]?.delta?.content ?? "";
    }
    return { text };
  } catch (err) {
    return { text, error: (err as Error).message };
  }
}

function assertAllOk(results: { status: number; text: string }[]): void {
  const failed = results.filter((r) => r.status !== 200);
  assert.equal(
    failed.length,
    0,
    `${failed.length} of ${results.length} failed, first: ${failed[0]?.text}`,
  );
}

interface Health {
  status: string;
  state: unknown;
  accounts?: { name: string; status: string }[];
}

async function health(instance: Instance): Promise<Health> {
  const res = await fetch(`${instance.url}/health`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  return await res.json();
}

/** Each account's credentials file in an instance's HOME (its own copy, as on its own machine). */
function credsFile(home: string, account: string): string {
  return join(home, ".aws", "sso", "cache", `${account}.json`);
}

/** The same two expired logins and the accounts file naming them, in a fresh HOME. */
async function writeAccounts(home: string): Promise<void> {
  for (const account of ACCOUNTS) {
    await Deno.writeTextFile(
      credsFile(home, account),
      JSON.stringify({ ...initialTokens(account), expiresAt: EXPIRED, region: "us-east-1" }),
    );
  }
  const entries = ACCOUNTS.map((name) => ({
    type: "json",
    path: `~/.aws/sso/cache/${name}.json`,
    name,
  }));
  await Deno.writeTextFile(
    join(home, ".aws", "sso", "cache", "accounts.json"),
    JSON.stringify(entries),
  );
}

async function startInstances(
  root: string,
  kiro: RotatingKiro,
  redis: RedisServer,
): Promise<Instance[]> {
  return await Promise.all(["a", "b", "c"].map((name) =>
    spawnInstance({
      name,
      root,
      prepare: writeAccounts,
      env: {
        PROXY_API_KEY: API_KEY,
        KIRO_API_URL: kiro.kiro.url,
        KIRO_MANAGEMENT_URL: kiro.kiro.url,
        KIRO_AUTH_URL: kiro.kiro.url,
        KIRO_OIDC_URL: kiro.kiro.url,
        KIRO_ACCOUNTS_FILE: "~/.aws/sso/cache/accounts.json",
        ACCOUNT_STRATEGY: "balanced",
        PROFILE_ARN: ARN,
        STATE_URL: redis.url(),
        STATE_SECRET: SECRET,
        SERVER_PORT: "0",
      },
    })
  ));
}

/** Spreads `count` chats over `instances`, all at once. */
function chatsOver(instances: Instance[], count: number, label: string) {
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) => chat(instances[i % instances.length]!, `${label} ${i}`),
    ),
  );
}

/** Chat calls Kiro received with `account`'s current access token so far. */
function chatsWith(kiro: RotatingKiro, account: string): number {
  return kiro.chatsByToken.get(kiro.logins.get(account)!.accessToken) ?? 0;
}

Deno.test("three instances on one Redis share two accounts through refresh, cool-downs, outages and a crash", async (t) => {
  await using tmp = await tempDir();
  const root = resolve(tmp.path);
  await using redis = new RedisServer(tmp.path);
  await redis.start();
  await using kiro = await startRotatingKiro(ACCOUNTS);
  const instances = await startInstances(root, kiro, redis);
  try {
    await t.step(
      "120 concurrent requests at token expiry: all succeed, one refresh per account",
      async () => {
        assertAllOk(await chatsOver(instances, 120, "request"));
        for (const account of ACCOUNTS) {
          const login = kiro.logins.get(account)!;
          assert.equal(login.refreshes, 1, `${account}: one refresh across the three instances`);
          assert.equal(
            login.reusedRefreshTokens,
            0,
            `${account}: no rotated-away refresh token used`,
          );
        }
        assert.equal(kiro.rejectedChats, 0, "no chat with a stale access token");
        const used = [...kiro.chatsByToken.keys()].sort();
        assert.deepEqual(used, ACCOUNTS.map((a) => kiro.logins.get(a)!.accessToken).sort());
      },
    );

    await t.step("the requests are spread over both accounts from every instance", () => {
      const counts = ACCOUNTS.map((a) => chatsWith(kiro, a));
      assert.equal(counts[0]! + counts[1]!, 120);
      for (const count of counts) assert.ok(count >= 40, `balanced: ${counts.join(" / ")}`);
      for (const instance of instances) {
        for (const account of ACCOUNTS) {
          assert.ok(
            instance.count(new RegExp(`account=${account}\\b`)) > 0,
            `${instance.name} used ${account}`,
          );
        }
      }
    });

    await t.step("each refreshed login is written back by one instance only", async () => {
      for (const account of ACCOUNTS) {
        const files = await Promise.all(
          instances.map(async (i) =>
            JSON.parse(await Deno.readTextFile(credsFile(i.home, account)))
          ),
        );
        const rotated = files.filter((f) =>
          f.refreshToken === kiro.logins.get(account)!.refreshToken
        );
        assert.equal(rotated.length, 1, account);
      }
    });

    await t.step("no token is readable in Redis", async () => {
      const dump = await redis.dump();
      assert.ok(dump.size > 0, "the instances share state through Redis");
      const secrets = ACCOUNTS.flatMap((a) => [
        kiro.logins.get(a)!.accessToken,
        kiro.logins.get(a)!.refreshToken,
        initialTokens(a).refreshToken,
        initialTokens(a).accessToken,
      ]);
      for (const [key, value] of dump) {
        assert.ok(key.startsWith("kiro-gateway:"), key);
        for (const secret of secrets) {
          assert.ok(!value.includes(secret) && !key.includes(secret), `${key} shows a token`);
        }
      }
    });

    await t.step("a cool-down recorded by one instance is honoured by the others", async () => {
      const [a, b, c] = instances as [Instance, Instance, Instance];
      const failed = kiro.failNext("two", 402, {
        message: "Monthly request limit reached",
        reason: "MONTHLY_REQUEST_COUNT",
      });
      let hit = false;
      void failed.then(() => (hit = true));
      // Balanced selection takes turns between idle accounts: "two" answers one of these.
      for (let i = 0; i < 4 && !hit; i++) {
        assertAllOk([await chat(a, `cool-down probe ${i}`)]);
      }
      await within(failed, 1000, "the 402 reaching account two");
      const before = chatsWith(kiro, "two");
      assertAllOk(await chatsOver([b, c], 30, "while two cools down"));
      assert.equal(chatsWith(kiro, "two"), before, "b and c leave the cooling account alone");
      for (const instance of instances) {
        const two = (await health(instance)).accounts?.find((acc) => acc.name === "two");
        assert.equal(two?.status, "cooling", instance.name);
      }
    });

    await t.step("a stored response is continued on another instance", async () => {
      const [a, b] = instances as [Instance, Instance];
      const first = await fetch(`${a.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "auto-kiro", input: "remember the word heliotrope" }),
      });
      const stored = await first.json();
      assert.equal(first.status, 200, JSON.stringify(stored));
      const next = await fetch(`${b.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "auto-kiro",
          input: "which word?",
          previous_response_id: stored.id,
        }),
      });
      const answer = await next.json();
      assert.equal(next.status, 200, JSON.stringify(answer));
      const upstream = kiro.kiro.requests.filter((r) => r.path === "/generateAssistantResponse").at(
        -1,
      )!;
      assert.match(JSON.stringify(upstream.body), /heliotrope/, "b sent a's turn as history");
    });

    await t.step(
      "Redis stopped mid-run: every request still succeeds, then sharing resumes",
      async () => {
        await redis.stop();
        assertAllOk(await chatsOver(instances, 30, "outage"));
        for (const instance of instances) {
          const body = await health(instance);
          assert.equal(body.status, "degraded", instance.name);
          assert.deepEqual(body.state, { backend: "redis", connected: false });
          assert.equal(instance.count(/Redis is unreachable/), 1, `${instance.name} warns once`);
        }
        const marks = instances.map((i) => i.lines.length);
        await redis.start();
        await Promise.all(
          instances.map((i, n) => i.waitForLine(/Redis is reachable again/, marks[n])),
        );
        assertAllOk(await chatsOver(instances, 30, "after"));
        for (const instance of instances) {
          assert.deepEqual((await health(instance)).state, { backend: "redis", connected: true });
        }
        for (const account of ACCOUNTS) assert.equal(kiro.logins.get(account)!.refreshes, 1);
      },
    );

    await t.step("an instance killed mid-stream loses nothing on the others", async () => {
      const resumeGate = Promise.withResolvers<void>();
      const stalled = kiro.kiro.replay(
        ...Array.from({ length: 3 }, () => ({
          frames: [textFrame("partial "), textFrame("rest")],
          stallAfter: 1,
          resume: resumeGate.promise,
        })),
      );
      const streams = instances.map((i) => streamChat(i));
      await within(
        Promise.all(stalled.map((s) => s.request)),
        20_000,
        "three streams reaching Kiro",
      );
      await instances[0]!.kill();
      resumeGate.resolve();
      const [killed, ...others] = await within(Promise.all(streams), 20_000, "the streams");
      assert.ok(killed!.error !== undefined || !killed!.text.includes("rest"));
      for (const other of others) {
        assert.equal(other.error, undefined);
        assert.equal(other.text, "partial rest");
      }
      assertAllOk(await chatsOver(instances.slice(1), 20, "survivors"));
    });
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
  }
});
