import assert from "node:assert/strict";
import { MemoryState, type StateStore } from "../../src/state/state.ts";
import { tempDir, within } from "../helpers.ts";
import {
  type FakePool,
  type Fault,
  POOL_KEY,
  type PoolGateway,
  startFakePool,
  startPoolGateway,
  tokenEntries,
} from "./fake_pool.ts";

const START = Date.parse("2026-05-18T12:00:00.000Z");

interface AccountRow {
  name: string;
  status: string;
  failures: number;
  cooldownUntil?: string;
  inFlight: number;
  requests: number;
  tokenExpiresAt?: string;
  reason?: string;
}

async function accountsOf(gateway: PoolGateway): Promise<Record<string, AccountRow>> {
  const { body } = await gateway.getJson("/health"); // accounts are shown with the key only
  const rows = body.accounts as AccountRow[];
  return Object.fromEntries(rows.map((row) => [row.name, row]));
}

/** Runs `body` with a fake pool of `names` and a gateway over refresh_token entries. */
async function withPool(
  names: string[],
  body: (pool: FakePool, gateway: PoolGateway, clock: { ms: number }) => Promise<void>,
  config: Record<string, unknown> = {},
): Promise<void> {
  await using tmp = await tempDir();
  await using pool = await startFakePool(names);
  const clock = { ms: START };
  await using gateway = await startPoolGateway(pool, {
    accounts: tokenEntries(names),
    dir: tmp.path,
    now: () => clock.ms,
    config,
  });
  await body(pool, gateway, clock);
}

Deno.test("sticky: one account serves until it fails, then the next one keeps serving", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    for (let i = 0; i < 3; i++) assert.equal((await gateway.chat(`hi ${i}`)).text, "Hello from a");
    assert.equal(pool.account("b").calls.length, 0);
    pool.account("a").fault = { status: 429, body: { message: "Too many requests" } };
    assert.equal((await gateway.chat("now")).text, "Hello from b");
    pool.account("a").fault = undefined;
    assert.equal((await gateway.chat("later")).text, "Hello from b", "b stays the current one");
    const rows = await accountsOf(gateway);
    assert.equal(rows.a!.status, "cooling");
    assert.equal(rows.a!.failures, 1);
    assert.equal(rows.a!.cooldownUntil, new Date(START + 60_000).toISOString());
    assert.equal(rows.b!.status, "ok");
    assert.equal(rows.a!.requests, 4);
    assert.equal(rows.b!.requests, 2);
  });
});

Deno.test("balanced: new conversations spread, one conversation stays on its account", async () => {
  await withPool(["a", "b", "c"], async (_pool, gateway) => {
    const first: string[] = [];
    for (let i = 0; i < 3; i++) first.push((await gateway.chat(`conversation ${i}`)).text!);
    assert.deepEqual([...first].sort(), ["Hello from a", "Hello from b", "Hello from c"]);
    const bound = (await gateway.chat("x", { prompt_cache_key: "conv-1" })).text;
    for (let i = 0; i < 4; i++) {
      const reply = await gateway.chat(`turn ${i}`, { prompt_cache_key: "conv-1" });
      assert.equal(reply.text, bound, "the conversation stays on its account");
    }
    for (const i of [2, 0, 1]) {
      const again = await gateway.chat(`conversation ${i}`);
      assert.equal(again.text, first[i], "same system prompt and first message, same account");
    }
    const session = async (id: string, text: string) => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: "Bearer pool-key",
          "content-type": "application/json",
          "x-claude-code-session-id": id,
        },
        body: JSON.stringify({
          model: "claude-sonnet-4.5",
          messages: [{ role: "user", content: text }],
        }),
      });
      return (await res.json()).choices[0].message.content as string;
    };
    const sessionBound = await session("s-1", "first question");
    for (let i = 0; i < 3; i++) {
      assert.equal(await session("s-1", `another question ${i}`), sessionBound, "same session");
    }
  }, { accountStrategy: "balanced" });
});

/** A store that answers each call a few milliseconds later, as a store across the network. */
function laggy(store: StateStore): StateStore {
  const later = () => new Promise((resolve) => setTimeout(resolve, 3));
  return {
    get: async (key) => (await later(), store.get(key)),
    set: async (key, value, options) => (await later(), store.set(key, value, options)),
    delete: async (key) => (await later(), store.delete(key)),
    tryLock: async (key, ttlMs) => (await later(), store.tryLock(key, ttlMs)),
    unlock: async (key, token) => (await later(), store.unlock(key, token)),
    increment: async (key, by, options) => (await later(), store.increment(key, by, options)),
    describe: () => store.describe(),
    close: () => store.close(),
  };
}

Deno.test("balanced: a burst of concurrent new conversations is spread over the accounts", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b", "c"]);
  await using gateway = await startPoolGateway(pool, {
    accounts: tokenEntries(["a", "b", "c"]),
    dir: tmp.path,
    config: { accountStrategy: "balanced" },
    state: laggy(new MemoryState()),
  });
  const replies = await Promise.all(
    Array.from({ length: 60 }, (_, i) => gateway.chat(`burst ${i}`)),
  );
  assert.deepEqual(replies.map((r) => r.status), Array(60).fill(200));
  for (const name of ["a", "b", "c"]) {
    const answered = pool.account(name).answered;
    assert.ok(answered >= 15 && answered <= 25, `${name} answered ${answered} of 60`);
  }
});

Deno.test("balanced: a conversation moves when its account fails", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    const bound = (await gateway.chat("x", { prompt_cache_key: "k" })).text!;
    const name = bound.replace("Hello from ", "");
    const other = name === "a" ? "b" : "a";
    pool.account(name).fault = { status: 429 };
    assert.equal((await gateway.chat("y", { prompt_cache_key: "k" })).text, `Hello from ${other}`);
    pool.account(name).fault = undefined;
    assert.equal((await gateway.chat("z", { prompt_cache_key: "k" })).text, `Hello from ${other}`);
  }, { accountStrategy: "balanced" });
});

Deno.test("each failure class moves on, or not, as §6.8 says", async (t) => {
  const cases: {
    name: string;
    fault?: { status: number; body?: unknown } | { network: true };
    refreshFault?: number;
    reply: number;
    status: string;
    failures: number;
  }[] = [
    {
      name: "429 after its own backoff",
      fault: { status: 429 },
      reply: 200,
      status: "cooling",
      failures: 1,
    },
    {
      name: "402 monthly quota used up",
      fault: { status: 402, body: { message: "limit", reason: "MONTHLY_REQUEST_COUNT" } },
      reply: 200,
      status: "cooling",
      failures: 1,
    },
    {
      name: "403 after the refresh retry",
      fault: { status: 403 },
      reply: 200,
      status: "cooling",
      failures: 1,
    },
    {
      name: "a network error",
      fault: { network: true },
      reply: 200,
      status: "cooling",
      failures: 1,
    },
    {
      name: "INVALID_MODEL_ID: next account without a penalty",
      fault: { status: 400, body: { message: "Invalid model", reason: "INVALID_MODEL_ID" } },
      reply: 200,
      status: "ok",
      failures: 0,
    },
    {
      name: "a suspended account rests a day",
      fault: {
        status: 403,
        body: { message: "Account suspended", reason: "TEMPORARILY_SUSPENDED" },
      },
      reply: 200,
      status: "suspended",
      failures: 1,
    },
    {
      name: "a refresh answered 401 makes the account dead",
      refreshFault: 401,
      reply: 200,
      status: "dead",
      failures: 1,
    },
    {
      name: "the request's own 400 is returned, no failover, no penalty",
      fault: { status: 400, body: { message: "Improperly formed request." } },
      reply: 400,
      status: "ok",
      failures: 0,
    },
    {
      name: "a 500 is returned (another account would not help)",
      fault: { status: 500, body: { message: "boom" } },
      reply: 502,
      status: "ok",
      failures: 0,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withPool(["a", "b"], async (pool, gateway) => {
        pool.account("a").fault = c.fault;
        pool.account("a").refreshFault = c.refreshFault;
        const reply = await gateway.chat("hello");
        assert.equal(reply.status, c.reply, JSON.stringify(reply.body));
        if (c.reply === 200) assert.equal(reply.text, "Hello from b");
        else assert.equal(pool.account("b").calls.length, 0, "b was not tried");
        const rows = await accountsOf(gateway);
        assert.equal(rows.a!.status, c.status);
        assert.equal(rows.a!.failures, c.failures);
        if (c.status === "suspended") {
          assert.equal(rows.a!.cooldownUntil, new Date(START + 86_400_000).toISOString());
        }
      });
    });
  }
});

Deno.test("a cooled-down account gets one probe; success resets it, failure doubles the rest", async () => {
  await withPool(["a", "b"], async (pool, gateway, clock) => {
    pool.account("a").fault = { status: 429 };
    assert.equal((await gateway.chat("1")).text, "Hello from b");
    clock.ms += 30_000;
    pool.account("b").fault = { status: 429 };
    const blocked = await gateway.chat("2");
    assert.equal(blocked.status, 503, "a cools down until 60 s, b just failed");
    assert.equal(pool.account("a").calls.length, 3, "a was not tried while cooling");
    clock.ms += 31_000; // a's cool-down is over; b's (60 s from +30 s) is not
    const probe = await gateway.chat("3");
    assert.equal(probe.status, 503, "the probe of a failed");
    let rows = await accountsOf(gateway);
    assert.equal(rows.a!.failures, 2);
    assert.equal(rows.a!.cooldownUntil, new Date(clock.ms + 120_000).toISOString(), "doubled");
    clock.ms += 121_000;
    pool.account("a").fault = undefined;
    assert.equal((await gateway.chat("4")).text, "Hello from a");
    rows = await accountsOf(gateway);
    assert.equal(rows.a!.failures, 0);
    assert.equal(rows.a!.status, "ok");
  });
});

Deno.test("when every account fails: 503 in each dialect naming each account, Retry-After", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    pool.account("a").fault = { status: 429 };
    pool.account("b").fault = {
      status: 402,
      body: { message: "x", reason: "MONTHLY_REQUEST_COUNT" },
    };
    const openai = await gateway.chat("hi");
    assert.equal(openai.status, 503);
    assert.equal(openai.headers.get("retry-after"), "60");
    const error = openai.body.error as { message: string; code: string };
    assert.equal(error.code, "accounts_unavailable");
    assert.match(error.message, /a: rate_limited \(HTTP 429\)/);
    assert.match(error.message, /b: quota_exceeded \(HTTP 402\)/);
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": "pool-key",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
      },
      body: JSON.stringify({
        model: "claude-sonnet-4.5",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "api_error");
    assert.match(body.error.message, /a: cooling until .*b: cooling until/);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
    const health = await gateway.getJson("/health", false);
    assert.equal(health.body.status, "down");
  });
});

Deno.test("a single account's own error reaches the client unchanged", async () => {
  await withPool(["solo"], async (pool, gateway) => {
    pool.account("solo").fault = { status: 429, body: { message: "Slow down" } };
    const reply = await gateway.chat("hi");
    assert.equal(reply.status, 429);
    assert.match((reply.body.error as { message: string }).message, /Slow down/);
    pool.account("solo").fault = undefined;
    assert.equal((await gateway.chat("again")).text, "Hello from solo", "never held back");
  });
});

Deno.test("100 concurrent requests during a failover: none lost, none doubled", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    assert.equal((await gateway.chat("warm up")).text, "Hello from a");
    pool.account("a").fault = { status: 429 };
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => gateway.chat(`request ${i}`)),
    );
    assert.deepEqual(replies.map((r) => r.status), Array(100).fill(200));
    assert.ok(replies.every((r) => r.text === "Hello from b"));
    assert.equal(pool.account("b").answered, 100, "b answered each request exactly once");
    const asked = pool.account("b").calls.map((c) => JSON.stringify(c.body));
    for (let i = 0; i < 100; i++) {
      const mine = new RegExp(`request ${i}(?!\\d)`);
      assert.equal(asked.filter((body) => mine.test(body)).length, 1);
    }
    const rows = await accountsOf(gateway);
    assert.equal(rows.a!.inFlight, 0);
    assert.equal(rows.b!.inFlight, 0);
    assert.equal(rows.b!.requests, 100);
  });
});

Deno.test("state survives a restart on the same STATE_DIR", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b"]);
  const clock = { ms: START };
  const options = { accounts: tokenEntries(["a", "b"]), dir: tmp.path, now: () => clock.ms };
  {
    await using first = await startPoolGateway(pool, options);
    pool.account("a").fault = { status: 429 };
    assert.equal((await first.chat("one")).text, "Hello from b");
  }
  pool.account("a").fault = undefined;
  await using second = await startPoolGateway(pool, options);
  const rows = await accountsOf(second);
  assert.equal(rows.a!.status, "cooling");
  assert.equal(rows.a!.failures, 1);
  assert.equal(rows.a!.requests, 1);
  assert.equal(
    (await second.chat("two")).text,
    "Hello from b",
    "the cool-down and current account were kept",
  );
  assert.equal(pool.account("a").calls.length, 3, "a was not called after the restart");
});

Deno.test("/health lists accounts without tokens or paths; /v1/models merges the accounts", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b"]);
  pool.account("a").models = ["claude-sonnet-4.5", "only-a"];
  pool.account("b").models = ["claude-sonnet-4.5", "only-b"];
  const file = `${tmp.path}/b.json`;
  await Deno.writeTextFile(file, JSON.stringify({ refreshToken: "refresh-b" }));
  await using gateway = await startPoolGateway(pool, {
    accounts: [
      { type: "refresh_token", refresh_token: "refresh-a", name: "a" },
      { type: "json", path: file },
      { type: "refresh_token", refresh_token: "refresh-off", name: "off", enabled: false },
    ],
    dir: tmp.path,
  });
  assert.equal((await gateway.chat("hi")).text, "Hello from a");
  const models = await gateway.getJson("/v1/models");
  const ids = (models.body.data as { id: string }[]).map((m) => m.id);
  assert.ok(ids.includes("only-a") && ids.includes("only-b"), ids.join(","));
  const anonymous = await gateway.getJson("/health", false);
  assert.equal(anonymous.body.accounts, undefined, "no accounts without the key");
  const res = await fetch(`${gateway.url}/health`, {
    headers: { authorization: `Bearer ${POOL_KEY}` },
  });
  const text = await res.text();
  const body = JSON.parse(text);
  assert.equal(body.status, "ok");
  const rows = body.accounts as AccountRow[];
  assert.equal(rows.length, 3);
  assert.equal(rows[0]!.name, "a");
  assert.match(rows[1]!.name, /^file-[0-9a-f]{12}$/);
  assert.equal(rows[2]!.status, "disabled");
  assert.ok(rows[0]!.tokenExpiresAt);
  for (const secret of ["refresh-a", "refresh-b", "refresh-off", "access-", tmp.path, "b.json"]) {
    assert.ok(!text.includes(secret), `/health shows ${secret}`);
  }
  assert.ok(!JSON.stringify(gateway.logs).includes("access-a-1"), "no token in the logs");
});

Deno.test("a model only some accounts offer goes to those accounts", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    pool.account("a").models = ["claude-sonnet-4.5"];
    pool.account("b").models = ["claude-sonnet-4.5", "claude-opus-4.7"];
    await gateway.getJson("/v1/models"); // loads both catalogues
    const reply = await gateway.chat("hi", { model: "claude-opus-4.7" });
    assert.equal(reply.text, "Hello from b");
    assert.equal(pool.account("a").calls.length, 0);
  });
});

Deno.test("a dead account comes back when its credential file changes", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b"]);
  const file = `${tmp.path}/a.json`;
  await Deno.writeTextFile(file, JSON.stringify({ refreshToken: "refresh-a" }));
  await using gateway = await startPoolGateway(pool, {
    accounts: [{ type: "json", path: file, name: "a" }, ...tokenEntries(["b"])],
    dir: tmp.path,
  });
  pool.account("a").refreshFault = 400;
  assert.equal((await gateway.chat("one")).text, "Hello from b");
  assert.equal((await accountsOf(gateway)).a!.status, "dead");
  pool.account("a").refreshFault = undefined;
  assert.equal((await accountsOf(gateway)).a!.status, "dead", "still dead: the file is the same");
  pool.account("b").fault = { status: 429 };
  assert.equal((await gateway.chat("two")).status, 503, "a is not tried while dead");
  await Deno.writeTextFile(file, JSON.stringify({ refreshToken: "refresh-a", note: "new login" }));
  assert.equal((await accountsOf(gateway)).a!.status, "ok");
  assert.equal((await gateway.chat("three")).text, "Hello from a");
});

/** A GetUsageLimits answer with `used` of `limit` credits, reset at `resetSeconds`. */
function usageAnswer(used: number, limit: number, overage: string, resetSeconds: number) {
  return {
    subscriptionInfo: { subscriptionTitle: "KIRO PRO" },
    usageBreakdownList: [{
      resourceType: "CREDIT",
      usageLimit: Math.floor(limit),
      usageLimitWithPrecision: limit,
      currentUsage: Math.floor(used),
      currentUsageWithPrecision: used,
    }],
    nextDateReset: resetSeconds,
    overageConfiguration: { overageStatus: overage },
  };
}

Deno.test("GET /v1/usage shows each account's credit; an account out of credit is skipped", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    const reset = START / 1000 + 86_400;
    pool.account("a").usage = usageAnswer(50, 50, "DISABLED", reset);
    pool.account("b").usage = usageAnswer(12.34, 50, "DISABLED", reset);
    const { status, body } = await gateway.getJson("/v1/usage");
    assert.equal(status, 200);
    const rows = body.accounts as Record<string, unknown>[];
    assert.deepEqual(rows.map((r) => [r.name, r.planName, r.used, r.limit, r.remaining]), [
      ["a", "KIRO PRO", 50, 50, 0],
      ["b", "KIRO PRO", 12.34, 50, 37.66],
    ]);
    assert.equal(rows[0]!.resetAt, reset * 1000);
    assert.equal(rows[0]!.overageAllowed, false);
    assert.equal(rows[0]!.status, "cooling");
    assert.equal((await gateway.chat("hi")).text, "Hello from b", "a has no credit left");
    assert.equal(pool.account("a").calls.length, 0);
    const health = await accountsOf(gateway);
    assert.equal(health.a!.status, "cooling");
    assert.equal(health.a!.cooldownUntil, new Date(reset * 1000).toISOString());
    assert.equal((health.b as { creditLeft?: number }).creditLeft, 37.66);
  });
});

Deno.test("an unknown usage value is never read as zero credit", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    pool.account("a").usage = {
      usageBreakdownList: [{ usageLimitWithPrecision: 50 }],
      overageConfiguration: { overageStatus: "DISABLED" },
    };
    pool.account("b").usage = usageAnswer(50, 50, "ENABLED", START / 1000 + 3600);
    const rows = (await gateway.getJson("/v1/usage")).body.accounts as Record<string, unknown>[];
    assert.equal(rows[0]!.limit, 50);
    assert.equal(rows[0]!.remaining, undefined);
    assert.equal(rows[1]!.remaining, 0);
    assert.equal((await gateway.chat("hi")).text, "Hello from a", "a's credit is unknown, not 0");
    pool.account("a").fault = { status: 429 };
    assert.equal((await gateway.chat("hi")).text, "Hello from b", "b has overage");
  });
});

Deno.test("balanced: the account with the fewest requests in flight is chosen", async () => {
  await withPool(["a", "b"], async (pool, gateway) => {
    const release = Promise.withResolvers<void>();
    pool.account("a").hold = release.promise;
    pool.account("b").hold = release.promise;
    const open: ReadableStreamDefaultReader<Uint8Array>[] = [];
    const start = async (text: string) => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer pool-key", "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-sonnet-4.5",
          stream: true,
          messages: [{ role: "user", content: text }],
        }),
      });
      const reader = res.body!.getReader();
      open.push(reader);
      let seen = "";
      while (!seen.includes("Hello from")) {
        seen += new TextDecoder().decode((await reader.read()).value);
      }
      return seen.match(/Hello from (\w)/)![1];
    };
    assert.equal(await start("one"), "a");
    assert.equal(await start("two"), "b", "a has one in flight");
    let rows = await accountsOf(gateway);
    assert.deepEqual([rows.a!.inFlight, rows.b!.inFlight], [1, 1]);
    assert.equal(await start("three"), "a", "a tie: the least recently used");
    assert.equal(await start("four"), "b");
    release.resolve();
    await Promise.all(open.map(async (reader) => {
      while (!(await reader.read()).done) { /* drain */ }
    }));
    rows = await accountsOf(gateway);
    assert.deepEqual([rows.a!.inFlight, rows.b!.inFlight], [0, 0]);
  }, { accountStrategy: "balanced" });
});

Deno.test("only one request probes an account whose cool-down ended", async () => {
  await withPool(["a", "b"], async (pool, gateway, clock) => {
    pool.account("a").fault = { status: 429 };
    assert.equal((await gateway.chat("1")).text, "Hello from b");
    clock.ms += 61_000;
    pool.account("a").fault = undefined;
    pool.account("b").fault = { status: 429 };
    const gate = Promise.withResolvers<void>();
    const probing = Promise.withResolvers<void>();
    pool.account("a").gate = gate.promise;
    pool.account("a").onCall = () => probing.resolve();
    const first = gateway.chat("probe");
    await within(probing.promise);
    const second = await gateway.chat("meanwhile");
    assert.equal(second.status, 503);
    assert.match(
      (second.body.error as { message: string }).message,
      /a: another request is probing it/,
    );
    gate.resolve();
    assert.equal((await first).text, "Hello from a");
    assert.equal(pool.account("a").calls.length, 4, "three failed calls, then the one probe");
    const rows = await accountsOf(gateway);
    assert.equal(rows.a!.failures, 0);
    assert.equal(rows.a!.status, "ok");
  });
});

/**
 * Sends `texts` at once to account "a" of a fresh sticky pool of a and b over a laggy store.
 * Once every request has reached a, it answers the ones `faultOf` gives a fault at once and
 * the others only when the pool has begun recording a failure (its first increment of a
 * `:failures` counter), so that successes and failures are recorded at the same time.
 * Returns the replies' statuses and the accounts' rows afterwards.
 */
async function burstOnA(
  texts: string[],
  faultOf: (text: string) => Fault | undefined,
): Promise<{ statuses: number[]; rows: Record<string, AccountRow> }> {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b"]);
  const recording = Promise.withResolvers<void>();
  const store = laggy(new MemoryState());
  await using gateway = await startPoolGateway(pool, {
    accounts: tokenEntries(["a", "b"]),
    dir: tmp.path,
    now: () => START,
    state: {
      ...store,
      increment(key, by, options) {
        if (key.endsWith(":failures")) recording.resolve();
        return store.increment(key, by, options);
      },
    },
  });
  const gate = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  const a = pool.account("a");
  a.gate = gate.promise;
  a.onCall = () => {
    if (a.calls.length === texts.length) arrived.resolve();
  };
  a.faultOf = async (request) => {
    const text = texts.find((t) => JSON.stringify(request.body).includes(t));
    const fault = text === undefined ? undefined : faultOf(text);
    if (fault === undefined) await within(recording.promise, 5000, "a failure being recorded");
    return fault;
  };
  const replies = texts.map((text) => gateway.chat(text));
  await within(arrived.promise, 5000, "every request reaching a");
  gate.resolve();
  const statuses = (await Promise.all(replies)).map((r) => r.status);
  return { statuses, rows: await accountsOf(gateway) };
}
Deno.test("outcomes recorded at once on one account lose no failure, cool-down or status", async (t) => {
  await t.step(
    "each failure counts and doubles the cool-down; successes erase neither",
    async () => {
      const texts = Array.from(
        { length: 8 },
        (_, i) => i % 2 ? `burst-fail-${i}` : `burst-ok-${i}`,
      );
      const { statuses, rows } = await burstOnA(
        texts,
        (text) => text.includes("fail") ? { status: 429 } : undefined,
      );
      assert.deepEqual(statuses, Array(8).fill(200), "the failed ones moved on to b");
      assert.equal(rows.a!.failures, 4);
      assert.equal(rows.a!.status, "cooling");
      assert.equal(rows.a!.cooldownUntil, new Date(START + 60_000 * 2 ** 3).toISOString());
    },
  );
  await t.step("a suspension stays through successes and shorter cool-downs", async () => {
    const texts = Array.from({ length: 6 }, (_, i) => `burst-${i}`);
    const { statuses, rows } = await burstOnA(texts, (text) =>
      text === "burst-2"
        ? {
          status: 403,
          body: { message: "Account suspended", reason: "TEMPORARILY_SUSPENDED" },
        }
        : text === "burst-4"
        ? { status: 429 }
        : undefined);
    assert.deepEqual(statuses, Array(6).fill(200));
    assert.equal(rows.a!.failures, 2);
    assert.equal(rows.a!.status, "suspended");
    assert.equal(rows.a!.cooldownUntil, new Date(START + 86_400_000).toISOString());
  });
});
