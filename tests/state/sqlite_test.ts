import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfig } from "../../src/config.ts";
import { openStateStore } from "../../src/state/open.ts";
import { openSqliteState, SqliteState, STATE_FILE_NAME } from "../../src/state/sqlite.ts";
import { tempDir } from "../helpers.ts";
import { stateContract } from "./state_contract.ts";

Deno.test("SqliteState keeps the StateStore contract", async (t) => {
  await using tmp = await tempDir();
  let n = 0;
  await stateContract(t, () => {
    let now = 1_000_000;
    const store = new SqliteState({ path: join(tmp.path, `contract-${++n}.db`), now: () => now });
    return Promise.resolve({
      store,
      advance: (ms: number) => {
        now += ms;
        return Promise.resolve();
      },
    });
  });
});

Deno.test("SqliteState keeps values, counters and expiries across a reopen", async () => {
  await using tmp = await tempDir();
  let now = 5_000;
  const dir = join(tmp.path, "nested", "state");
  const first = openSqliteState(dir, () => now);
  await first.set("k:kept", "v");
  await first.set("k:short", "v", { ttlMs: 100 });
  await first.increment("n:kept", 7);
  assert.ok(await first.tryLock("lock:held", 1_000));
  await first.close();
  assert.ok((await Deno.stat(join(dir, STATE_FILE_NAME))).isFile);

  now += 500;
  const second = openSqliteState(dir, () => now);
  try {
    assert.equal(await second.get("k:kept"), "v");
    assert.equal(await second.get("k:short"), undefined);
    assert.equal(await second.increment("n:kept", 0), 7);
    assert.equal(await second.tryLock("lock:held", 1_000), undefined, "the lock is still held");
  } finally {
    await second.close();
  }
});

Deno.test("two stores on one file see each other's writes and share locks", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "shared.db");
  const a = new SqliteState({ path });
  const b = new SqliteState({ path });
  try {
    await a.set("k:x", "from a");
    assert.equal(await b.get("k:x"), "from a");
    assert.ok(await a.tryLock("lock:x", 10_000));
    assert.equal(await b.tryLock("lock:x", 10_000), undefined);
    await Promise.all([a.increment("n:x"), b.increment("n:x"), a.increment("n:x")]);
    assert.equal(await b.increment("n:x", 0), 3);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("openStateStore opens SQLite in STATE_DIR, and memory in demo mode", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "st");
  const store = await openStateStore(defaultConfig({ stateDir: dir }));
  try {
    assert.deepEqual(store.describe(), { backend: "sqlite", connected: true });
    await store.set("k", "v");
    assert.ok((await Deno.stat(join(dir, STATE_FILE_NAME))).isFile);
  } finally {
    await store.close();
  }
  const demo = await openStateStore(defaultConfig({ stateDir: join(tmp.path, "no"), demo: true }));
  assert.equal(demo.describe().backend, "memory");
  await demo.close();
  await assert.rejects(Deno.stat(join(tmp.path, "no")), Deno.errors.NotFound);
});
