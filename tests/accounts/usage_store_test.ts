import assert from "node:assert/strict";
import type { AccountEntry } from "../../src/accounts/entries.ts";
import { USAGE_CACHE_MS, type UsageSummary } from "../../src/accounts/usage.ts";
import { exhaustedUntil, type UsageAccount, UsageStore } from "../../src/accounts/usage_store.ts";
import { GatewayError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { MemoryState } from "../../src/state/state.ts";
import { within } from "../helpers.ts";

const START = 1_700_000_000_000;
/** The usage store reads an entry's id and name only. */
const A: AccountEntry = { id: "a", name: "a", kind: "json", enabled: true };

/** A usage store on a fresh MemoryState, its clock, and account "a" whose fetch `fetchUsage` is. */
function setup(fetchUsage: () => Promise<UsageSummary>) {
  const clock = { ms: START };
  const now = () => clock.ms;
  const state = new MemoryState(now);
  const usage = new UsageStore({ state, logger: silentLogger(), now });
  const account: UsageAccount = { entry: A, parts: { fetchUsage } };
  return { clock, state, usage, account };
}

Deno.test("a stale usage is fetched and stored; one younger than the age asked for is kept", async () => {
  let fetches = 0;
  const { clock, state, usage, account } = setup(() => {
    fetches++;
    return Promise.resolve({ limit: 50, used: 45.5, remaining: 4.5, fetchedAt: clock.ms });
  });
  assert.deepEqual(await usage.refresh(account), {
    limit: 50,
    used: 45.5,
    remaining: 4.5,
    fetchedAt: START,
  });
  assert.equal(
    await state.get("account:a:usage"),
    `{"limit":50,"used":45.5,"remaining":4.5,"fetchedAt":${START}}`,
  );
  assert.equal(await usage.creditLeft("a"), 4.5);
  clock.ms += USAGE_CACHE_MS - 1;
  await usage.refresh(account);
  assert.equal(fetches, 1, "fresh for the cache's age");
  await usage.refresh(account, 60_000);
  assert.equal(fetches, 2, "older than the minute asked for");
  await usage.refresh({ entry: A });
  assert.equal(fetches, 2, "a disabled account is never fetched");
  assert.equal(await usage.creditLeft("b"), undefined);
});

Deno.test("a failed fetch keeps the last known values and records its error", async () => {
  let fail = false;
  const { clock, state, usage, account } = setup(() =>
    fail
      ? Promise.reject(new GatewayError("upstream", "GetUsageLimits answered HTTP 500"))
      : Promise.resolve({ remaining: 3, fetchedAt: clock.ms })
  );
  await usage.refresh(account);
  fail = true;
  clock.ms += USAGE_CACHE_MS;
  assert.deepEqual(await usage.refresh(account), {
    remaining: 3,
    fetchedAt: START + USAGE_CACHE_MS,
    error: "GetUsageLimits answered HTTP 500",
  });
  assert.equal(
    await state.get("account:a:usage"),
    `{"remaining":3,"fetchedAt":${
      START + USAGE_CACHE_MS
    },"error":"GetUsageLimits answered HTTP 500"}`,
  );
  await state.set("account:a:usage", "not json");
  assert.deepEqual(await usage.read("a"), {}, "an unreadable record counts as none");
});

Deno.test("one fetch at a time per account: others meanwhile get the stored usage", async () => {
  const gate = Promise.withResolvers<void>();
  let fetches = 0;
  const { state, usage, account } = setup(async () => {
    fetches++;
    await gate.promise;
    return { remaining: 7, fetchedAt: START };
  });
  const first = usage.refresh(account);
  assert.deepEqual(await within(usage.refresh(account), 5000, "a second refresh"), {});
  gate.resolve();
  assert.deepEqual(await within(first), { remaining: 7, fetchedAt: START });
  assert.equal(fetches, 1);
  assert.equal(await state.get("account:a:usage-lock"), undefined, "the lock is released");
});

Deno.test("background refreshes skip fresh usage, swallow failures, and close waits for them", async () => {
  const gate = Promise.withResolvers<void>();
  const { state, usage, account } = setup(async () => {
    await gate.promise;
    return { remaining: 1, fetchedAt: START };
  });
  const fresh: UsageAccount = {
    entry: { ...A, id: "fresh" },
    parts: { fetchUsage: () => Promise.reject(new Error("a fresh usage is not fetched")) },
  };
  await state.set("account:fresh:usage", JSON.stringify({ remaining: 2, fetchedAt: START }));
  usage.refreshStale([account, fresh]);
  gate.resolve();
  await within(usage.close());
  assert.equal(await state.get("account:a:usage"), `{"remaining":1,"fetchedAt":${START}}`);
  assert.equal(await usage.creditLeft("fresh"), 2);

  class DownState extends MemoryState {
    override get(): Promise<string | undefined> {
      return Promise.reject(new Error("store down"));
    }
  }
  const down = new UsageStore({ state: new DownState(), logger: silentLogger(), now: () => START });
  down.refreshStale([account]);
  await within(down.close());
});

Deno.test("an account is out of credit only when Kiro said so and overage is off", async (t) => {
  const now = START;
  const cases: [string, Parameters<typeof exhaustedUntil>[0], number | undefined][] = [
    [
      "none left, until the reset",
      { remaining: 0, resetAt: now + 1000, fetchedAt: now },
      now + 1000,
    ],
    ["overdrawn, overage off", { remaining: -2, overageAllowed: false, resetAt: now + 5 }, now + 5],
    [
      "none left, overage on",
      { remaining: 0, overageAllowed: true, resetAt: now + 1000 },
      undefined,
    ],
    ["some left", { remaining: 0.5, resetAt: now + 1000 }, undefined],
    ["unknown", { fetchedAt: now }, undefined],
    [
      "no reset date: until the next fetch",
      { remaining: 0, fetchedAt: now - 1000 },
      now - 1000 + USAGE_CACHE_MS,
    ],
    ["the reset has passed", { remaining: 0, resetAt: now - 1 }, undefined],
  ];
  for (const [name, usage, expected] of cases) {
    await t.step(name, () => assert.equal(exhaustedUntil(usage, now), expected));
  }
});
