import assert from "node:assert/strict";
import { IN_FLIGHT_WINDOW_MS, InFlightCounts } from "../../src/accounts/in_flight.ts";
import { MemoryState } from "../../src/state/state.ts";

Deno.test("in-flight counts are shared, and a crashed instance's fade while others stay busy", async () => {
  let now = 1_000 * IN_FLIGHT_WINDOW_MS;
  const clock = () => now;
  const state = new MemoryState(clock);
  const crashed = new InFlightCounts(state, clock);
  const alive = new InFlightCounts(state, clock);
  for (let i = 0; i < 3; i++) await crashed.begin("one"); // never ended: the instance died
  const long = await alive.begin("one");
  assert.equal(await alive.read("one"), 4, "both instances' requests count");
  assert.equal(await crashed.read("two"), 0);

  // The survivor keeps the counter busy for a whole window: it must not keep the dead counts.
  for (let t = 0; t < IN_FLIGHT_WINDOW_MS; t += IN_FLIGHT_WINDOW_MS / 10) {
    now += IN_FLIGHT_WINDOW_MS / 10;
    const done = await alive.begin("one");
    await done();
  }
  assert.equal(await alive.read("one"), 1, "only the live long request still counts");
  await long();
  await long();
  assert.equal(await alive.read("one"), 0, "ending twice counts once");
});

Deno.test("a request ending in a later window lowers the window it is counted in", async () => {
  let now = 7 * IN_FLIGHT_WINDOW_MS + 10;
  const clock = () => now;
  const counts = new InFlightCounts(new MemoryState(clock), clock);
  const first = await counts.begin("a");
  const second = await counts.begin("a");
  now += IN_FLIGHT_WINDOW_MS;
  assert.equal(await counts.read("a"), 2, "carried into the new window");
  await first();
  assert.equal(await counts.read("a"), 1);
  now += 3 * IN_FLIGHT_WINDOW_MS;
  assert.equal(await counts.read("a"), 1, "carried across several windows at once");
  await second();
  assert.equal(await counts.read("a"), 0);
});
