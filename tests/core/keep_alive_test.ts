import assert from "node:assert/strict";
import { KeepAlive } from "../../src/core/keep_alive.ts";
import { within } from "../helpers.ts";

Deno.test("KeepAlive beats in each quiet interval until stopped", async () => {
  let beats = 0;
  const twice = Promise.withResolvers<void>();
  const keepAlive = new KeepAlive(5, () => {
    if (++beats === 2) twice.resolve();
  });
  await within(twice.promise, 2000, "two beats");
  keepAlive.stop();
  keepAlive.stop();
  assert.ok(beats >= 2);
  // The test's timer sanitizer fails it if stop() left the interval running.
});

Deno.test("KeepAlive stops by itself when a beat throws (the output is gone)", async () => {
  let beats = 0;
  const thrown = Promise.withResolvers<void>();
  new KeepAlive(5, () => {
    beats++;
    thrown.resolve();
    throw new TypeError("The stream controller cannot close or enqueue");
  });
  await within(thrown.promise, 2000, "a beat");
  // A second keep-alive with the same interval counts five more intervals as a clock.
  let ticks = 0;
  const later = Promise.withResolvers<void>();
  const clock = new KeepAlive(5, () => {
    if (++ticks === 5) later.resolve();
  });
  await within(later.promise, 2000, "five more intervals");
  clock.stop();
  assert.equal(beats, 1, "the keep-alive beat again after its beat threw");
});
