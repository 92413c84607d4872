/**
 * The behaviour every StateStore backend must have, as one table of steps. Each backend's test
 * file calls stateContract with a factory; a new backend passes the same steps.
 */
import assert from "node:assert/strict";
import type { StateStore } from "../../src/state/state.ts";

/** A store under test, with a clock the steps can move forward. */
export interface ContractSubject {
  store: StateStore;
  /** Moves the store's clock forward by `ms` (real backends may wait instead). */
  advance(ms: number): Promise<void>;
}

/** Runs the shared StateStore behaviour against `make()`, one step per rule. */
export async function stateContract(
  t: Deno.TestContext,
  make: () => Promise<ContractSubject>,
): Promise<void> {
  const steps: [string, (s: ContractSubject) => Promise<void>][] = [
    ["a set value is read back, and a missing key is undefined", async ({ store }) => {
      await store.set("k:a", "1");
      assert.equal(await store.get("k:a"), "1");
      assert.equal(await store.get("k:missing"), undefined);
    }],
    ["set replaces the value; delete removes it", async ({ store }) => {
      await store.set("k:b", "1");
      await store.set("k:b", "2");
      assert.equal(await store.get("k:b"), "2");
      await store.delete("k:b");
      await store.delete("k:b");
      assert.equal(await store.get("k:b"), undefined);
    }],
    ["a value with a ttl is gone after it", async ({ store, advance }) => {
      await store.set("k:c", "x", { ttlMs: 50 });
      assert.equal(await store.get("k:c"), "x");
      await advance(80);
      assert.equal(await store.get("k:c"), undefined);
    }],
    ["a lock is held once until released", async ({ store }) => {
      const token = await store.tryLock("lock:a", 10_000);
      assert.ok(token);
      assert.equal(await store.tryLock("lock:a", 10_000), undefined);
      await store.unlock("lock:a", "not-the-token");
      assert.equal(await store.tryLock("lock:a", 10_000), undefined);
      await store.unlock("lock:a", token);
      assert.ok(await store.tryLock("lock:a", 10_000));
    }],
    ["a lock whose holder vanished expires", async ({ store, advance }) => {
      assert.ok(await store.tryLock("lock:b", 50));
      await advance(80);
      assert.ok(await store.tryLock("lock:b", 10_000));
    }],
    ["concurrent tryLock calls grant the lock once", async ({ store }) => {
      const tokens = await Promise.all(
        Array.from({ length: 20 }, () => store.tryLock("lock:c", 10_000)),
      );
      assert.equal(tokens.filter(Boolean).length, 1);
    }],
    ["counters start at zero, add, and count concurrent increments exactly", async ({ store }) => {
      assert.equal(await store.increment("n:a"), 1);
      assert.equal(await store.increment("n:a", 4), 5);
      assert.equal(await store.increment("n:a", -2), 3);
      await Promise.all(Array.from({ length: 50 }, () => store.increment("n:b")));
      assert.equal(await store.increment("n:b", 0), 50);
    }],
    ["get reads a counter, and a counter over a set value starts from 0", async ({ store }) => {
      await store.increment("n:d", 7);
      assert.equal(await store.get("n:d"), "7");
      await store.set("n:e", "not a number");
      assert.equal(await store.increment("n:e", 2), 2);
      assert.equal(await store.get("n:e"), "2");
    }],
    ["a counter with a ttl fades", async ({ store, advance }) => {
      await store.increment("n:c", 3, { ttlMs: 50 });
      await advance(80);
      assert.equal(await store.increment("n:c", 0), 0);
    }],
  ];
  for (const [name, run] of steps) {
    await t.step(name, async () => {
      const subject = await make();
      try {
        await run(subject);
      } finally {
        await subject.store.close();
      }
    });
  }
}
