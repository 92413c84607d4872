import assert from "node:assert/strict";
import type { AccountEntry } from "../../src/accounts/entries.ts";
import { MAX_COOLDOWN_MS } from "../../src/accounts/health.ts";
import { HealthStore } from "../../src/accounts/health_store.ts";
import { GatewayError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { MemoryState } from "../../src/state/state.ts";

const NOW = 1_700_000_000_000;
const A: AccountEntry = {
  id: "a",
  name: "a",
  kind: "refresh_token",
  refreshToken: "rt-a",
  enabled: true,
};
const THROTTLED = new GatewayError("rate_limited", "Too many requests", { upstreamStatus: 429 });

function healthStore(state: MemoryState): HealthStore {
  return new HealthStore({ state, cooldownMs: 60_000, logger: silentLogger(), now: () => NOW });
}

Deno.test("failures are stored in the layout instances share; only the probe's success clears them", async () => {
  const state = new MemoryState(() => NOW);
  const health = healthStore(state);
  await health.recordFailure(A, "failover", THROTTLED);
  assert.equal(
    await state.get("account:a:health"),
    `{"lastFailureAt":${NOW},"reason":"rate_limited (HTTP 429): Too many requests","cooldownUntil":${
      NOW + 60_000
    }}`,
  );
  await health.recordFailure(A, "failover", THROTTLED);
  assert.equal(await state.get("account:a:failures"), "2");
  assert.equal(await state.get("account:a:recent-failures"), "2");
  assert.deepEqual(await health.read("a"), {
    health: {
      lastFailureAt: NOW,
      reason: "rate_limited (HTTP 429): Too many requests",
      cooldownUntil: NOW + 120_000,
    },
    failures: 2,
    recentFailures: 2,
    lastUsedAt: 0,
  });

  await health.recordSuccess(A, false);
  assert.equal(await state.get("account:a:last-used"), String(NOW));
  assert.equal(
    (await health.read("a")).failures,
    2,
    "a success chosen while healthy erases nothing",
  );
  await health.recordSuccess(A, true);
  assert.deepEqual(await health.read("a"), {
    health: {},
    failures: 0,
    recentFailures: 2,
    lastUsedAt: NOW,
  });
});

Deno.test("a suspension outlasts a shorter cool-down; a dead mark lasts until the credentials change", async () => {
  const state = new MemoryState(() => NOW);
  const health = healthStore(state);
  const suspended = new GatewayError("upstream", "Account suspended", { upstreamStatus: 403 });
  await health.recordFailure(A, "suspended", suspended);
  await health.recordFailure(A, "failover", THROTTLED);
  const a = (await health.read("a")).health;
  assert.equal(a.suspended, true);
  assert.equal(a.cooldownUntil, NOW + MAX_COOLDOWN_MS);

  const b: AccountEntry = { ...A, id: "b", name: "b", refreshToken: "rt-b" };
  const rejected = new GatewayError("kiro_auth", "Refresh rejected", { upstreamStatus: 401 });
  await health.recordFailure(b, "dead", rejected);
  const dead = (await health.read("b")).health;
  assert.match(dead.deadStamp ?? "", /^rt-/);
  assert.equal(dead.cooldownUntil, undefined, "a dead account has no cool-down to wait out");
  await health.recordFailure(b, "failover", THROTTLED);
  assert.equal((await health.read("b")).health.deadStamp, dead.deadStamp, "same credentials");
  await health.recordFailure({ ...b, refreshToken: "rt-b-new" }, "failover", THROTTLED);
  assert.equal((await health.read("b")).health.deadStamp, undefined, "new credentials");
});

/** A MemoryState that awaits `onTryLock` before each tryLock. */
class WatchedState extends MemoryState {
  onTryLock: (key: string) => Promise<void> = () => Promise.resolve();
  override async tryLock(key: string, ttlMs: number): Promise<string | undefined> {
    await this.onTryLock(key);
    return await super.tryLock(key, ttlMs);
  }
}

Deno.test("a failure waits for the health lock another holder has, then releases it", async () => {
  const lock = "account:a:health-lock";
  const state = new WatchedState(() => NOW);
  const holder = await state.tryLock(lock, 10_000);
  assert.ok(holder);
  const countedAtAttempt: (string | undefined)[] = [];
  state.onTryLock = async (key) => {
    if (key !== lock) return;
    countedAtAttempt.push(await state.get("account:a:failures"));
    if (countedAtAttempt.length === 2) await state.unlock(lock, holder);
  };
  await healthStore(state).recordFailure(A, "failover", THROTTLED);
  assert.deepEqual(countedAtAttempt, [undefined, undefined], "nothing counted before the lock");
  assert.equal(await state.get("account:a:failures"), "1");
  assert.equal(await state.get(lock), undefined);
});

Deno.test("one request at a time holds an account's probe", async () => {
  const state = new MemoryState(() => NOW);
  const health = healthStore(state);
  const token = await health.tryProbe("a");
  assert.ok(token);
  assert.equal(await state.get("account:a:probe"), token);
  assert.equal(await health.tryProbe("a"), undefined);
  assert.ok(await health.tryProbe("b"), "each account has its own probe");
  await health.releaseProbe("a", token);
  assert.ok(await health.tryProbe("a"));
});
