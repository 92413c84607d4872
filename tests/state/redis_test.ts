import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { checkStateStore } from "../../src/doctor.ts";
import { Logger, type LogRecord } from "../../src/log.ts";
import { openStateStore } from "../../src/state/open.ts";
import {
  describeRedisUrl,
  KEY_PREFIX,
  openRedisState,
  RedisState,
  StateCipher,
} from "../../src/state/redis.ts";
import { MemoryState } from "../../src/state/state.ts";
import { tempDir, within } from "../helpers.ts";
import { freePort, RedisServer } from "./redis_server.ts";
import { stateContract } from "./state_contract.ts";

const SECRET = "correct horse battery staple";

/** A logger that keeps its records, and resolves waits for a message. */
function recordingLogger(): {
  logger: Logger;
  records: LogRecord[];
  next(msg: RegExp): Promise<void>;
} {
  const logger = new Logger({ level: "info", write: () => {} });
  const records: LogRecord[] = [];
  const waiters: { msg: RegExp; resolve: () => void }[] = [];
  logger.listen((record) => {
    records.push(record);
    for (const w of waiters.filter((w) => w.msg.test(record.msg))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    logger,
    records,
    next(msg: RegExp) {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ msg, resolve });
      return within(promise, 20_000, `a log line matching ${msg}`);
    },
  };
}

function warnings(records: LogRecord[]): LogRecord[] {
  return records.filter((r) => r.level === "warn");
}

async function open(server: RedisServer, logger: Logger, fallback = new MemoryState()) {
  return await openRedisState({ url: server.url(), secret: SECRET, fallback, logger });
}

Deno.test("RedisState keeps the StateStore contract against a real redis-server", async (t) => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const { logger } = recordingLogger();
  await stateContract(t, async () => {
    await server.flush();
    return {
      store: await open(server, logger),
      advance: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  });
});

Deno.test("values are stored sealed under kiro-gateway: keys, readable only with the same secret", async () => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const log = recordingLogger();
  const token = "aoaAAAAAG-access-token-that-must-not-leak";
  const first = await open(server, log.logger);
  const second = await open(server, log.logger);
  const other = await openRedisState({
    url: server.url(),
    secret: "another secret of some length",
    fallback: new MemoryState(),
    logger: log.logger,
  });
  try {
    await first.set("account:main:tokens", JSON.stringify({ accessToken: token }));
    await first.increment("account:main:inflight", 2, { ttlMs: 60_000 });
    assert.ok(await first.tryLock("account:main:refresh", 60_000));

    const dump = await server.dump();
    assert.deepEqual([...dump.keys()].sort(), [
      `${KEY_PREFIX}account:main:inflight`,
      `${KEY_PREFIX}account:main:refresh`,
      `${KEY_PREFIX}account:main:tokens`,
      `${KEY_PREFIX}state:secret-check`,
    ]);
    for (const [key, value] of dump) {
      assert.ok(!value.includes(token) && !value.includes("aoa"), `${key} holds plaintext`);
    }
    assert.match(dump.get(`${KEY_PREFIX}account:main:tokens`)!, /^v1:[A-Za-z0-9+/=]+$/);
    assert.equal(dump.get(`${KEY_PREFIX}account:main:inflight`), "2");

    assert.equal(await second.get("account:main:tokens"), JSON.stringify({ accessToken: token }));
    assert.equal(await second.get("account:main:inflight"), "2", "counters read back as they are");
    assert.equal(await other.get("account:main:tokens"), undefined);
    assert.equal(await other.get("account:main:tokens"), undefined);
    const errors = log.records.filter((r) => r.level === "error");
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.msg, /same STATE_SECRET/);
    assert.ok(!JSON.stringify(log.records).includes(token));
  } finally {
    await Promise.all([first.close(), second.close(), other.close()]);
  }
});

Deno.test("a sealed value moved to another key does not open", async () => {
  const cipher = await StateCipher.fromSecret(SECRET);
  const sealed = await cipher.seal("a", "secret value");
  assert.equal(await cipher.open("a", sealed), "secret value");
  await assert.rejects(cipher.open("b", sealed));
  await assert.rejects(cipher.open("a", sealed.slice(0, -4) + "AAAA"));
});

Deno.test("logs show the Redis address without its password", () => {
  assert.equal(
    describeRedisUrl("rediss://:hunter2@cache.internal:6380/3"),
    "rediss://cache.internal:6380/3",
  );
  assert.equal(describeRedisUrl("redis://user:pw@h:1"), "redis://h:1");
});

Deno.test("Redis unreachable at start: serves from the fallback, warns once, shares once it is up", async () => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  const log = recordingLogger();
  const store = await openRedisState({
    url: server.url(),
    secret: SECRET,
    fallback: new MemoryState(),
    logger: log.logger,
    connectWaitMs: 200,
  });
  try {
    assert.deepEqual(store.describe(), { backend: "redis", connected: false });
    await store.set("k:local", "v");
    assert.equal(await store.get("k:local"), "v");
    assert.equal(await store.increment("n:local", 3), 3);
    const lock = await store.tryLock("lock:local", 60_000);
    assert.ok(lock);
    assert.equal(await store.tryLock("lock:local", 60_000), undefined);
    assert.equal(warnings(log.records).length, 1);
    assert.match(warnings(log.records)[0]!.msg, /Redis is unreachable/);

    const back = log.next(/reachable again/);
    await server.start();
    await back;
    assert.deepEqual(store.describe(), { backend: "redis", connected: true });
    await store.unlock("lock:local", lock);
    await store.set("k:shared", "w");
    assert.ok((await server.dump()).has(`${KEY_PREFIX}k:shared`));
    assert.ok(await store.tryLock("lock:local", 60_000), "the fallback lock was released too");
    assert.equal(warnings(log.records).length, 1);
  } finally {
    await store.close();
  }
});

Deno.test("Redis stopped mid-run: no call fails, one warning, what was written meanwhile is copied back", async () => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const log = recordingLogger();
  const store = await open(server, log.logger);
  try {
    await store.set("k:before", "1");
    assert.equal(store.describe().connected, true);

    const lost = log.next(/Redis is unreachable/);
    await server.stop();
    const during = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.increment("n:during", 1).then(() => i)),
    );
    assert.equal(during.length, 20);
    await lost;
    assert.equal(store.describe().connected, false);
    await store.set("k:during", "2");
    assert.equal(await store.get("k:during"), "2");
    assert.equal(await store.increment("n:during", 0), 20);
    assert.equal(warnings(log.records).length, 1);

    await store.set("k:gone", "x");
    await store.delete("k:gone");
    await store.set("k:fading", "4", { ttlMs: 60_000 });

    const back = log.next(/reachable again/);
    await server.start();
    await back;
    assert.equal(store.describe().connected, true);
    const copied = await server.dump();
    assert.deepEqual([...copied.keys()].sort(), [
      `${KEY_PREFIX}k:during`,
      `${KEY_PREFIX}k:fading`,
      `${KEY_PREFIX}state:secret-check`,
    ]);
    assert.equal(await store.get("k:during"), "2", "what was written meanwhile is now in Redis");
    const admin = await server.client();
    try {
      const ttl = await admin.pTTL(`${KEY_PREFIX}k:fading`);
      assert.ok(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
    } finally {
      admin.destroy();
    }
    await store.set("k:after", "3");
    assert.equal(await store.get("k:after"), "3");
    assert.ok((await server.dump()).has(`${KEY_PREFIX}k:after`));
    assert.equal(warnings(log.records).length, 1);
  } finally {
    await store.close();
  }
});

Deno.test("a Redis that refuses writes (out of memory) is an outage too: no call fails", async () => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const log = recordingLogger();
  const store = await open(server, log.logger);
  const admin = await server.client();
  try {
    await admin.configSet({ maxmemory: "1", "maxmemory-policy": "noeviction" });
    await store.set("k:refused", "kept locally");
    assert.equal(await store.get("k:refused"), "kept locally");
    assert.equal(store.describe().connected, false);
    assert.equal(warnings(log.records).length, 1);
    assert.match(String(warnings(log.records)[0]!.fields.error), /OOM/);
    const back = log.next(/reachable again/);
    await admin.configSet({ maxmemory: "0" });
    await back;
    assert.equal(await store.get("k:refused"), "kept locally");
    assert.ok((await server.dump()).has(`${KEY_PREFIX}k:refused`), "copied once writes work");
  } finally {
    admin.destroy();
    await store.close();
  }
});

Deno.test("STATE_URL opens the Redis store; without it the embedded one", async () => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const redis = await openStateStore(
    defaultConfig({ stateUrl: server.url(), stateSecret: SECRET, stateDir: `${tmp.path}/state` }),
  );
  try {
    assert.ok(redis instanceof RedisState);
    assert.deepEqual(redis.describe(), { backend: "redis", connected: true });
  } finally {
    await redis.close();
  }
  const sqlite = await openStateStore(defaultConfig({ stateDir: `${tmp.path}/state` }));
  try {
    assert.equal(sqlite.describe().backend, "sqlite");
  } finally {
    await sqlite.close();
  }
});

Deno.test("doctor checks the Redis state store: reachable, and the same STATE_SECRET", async (t) => {
  await using tmp = await tempDir();
  await using server = new RedisServer(tmp.path);
  await server.start();
  const check = (secret: string, url = server.url()) =>
    checkStateStore(defaultConfig({ stateUrl: url, stateSecret: secret }), {
      probeTimeoutMs: 2000,
    });
  await t.step("before any instance stored anything", async () => {
    const [finding] = await check(SECRET);
    assert.equal(finding?.level, "ok");
    assert.match(finding!.message, /reachable; no instance has stored anything yet/);
  });
  const { logger } = recordingLogger();
  const store = await open(server, logger);
  await store.close();
  await t.step("the secret the instances use", async () => {
    const [finding] = await check(SECRET);
    assert.equal(finding?.level, "ok");
    assert.match(finding!.message, /STATE_SECRET matches/);
  });
  await t.step("another secret", async () => {
    const [finding] = await check("a different secret entirely");
    assert.equal(finding?.level, "fail");
    assert.match(finding!.message, /use the same STATE_SECRET on every instance/);
  });
  await t.step("nothing listening, password never shown", async () => {
    const down = `redis://:hunter2@127.0.0.1:${freePort()}/0`;
    const [finding] = await check(SECRET, down);
    assert.equal(finding?.level, "fail");
    assert.match(
      finding!.message,
      /unreachable: .*; the gateway would serve from local state only/,
    );
    assert.doesNotMatch(finding!.message, /hunter2/);
  });
  await t.step("no STATE_URL, no finding", async () => {
    assert.deepEqual(await checkStateStore(defaultConfig(), {}), []);
  });
});
