import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { catchStreamErrors, withIdleTimeout } from "../../src/core/streams.ts";
import { GatewayError } from "../../src/errors.ts";
import { collect, within } from "../helpers.ts";

const TEXT: ChatEvent = { type: "text", text: "Hi" };

/** A pull source that serves `items`, then waits on a gate that never opens. */
function gatedSource<T>(items: T[]) {
  const cancelled = Promise.withResolvers<unknown>();
  const gate = Promise.withResolvers<void>();
  let pulls = 0;
  const stream = new ReadableStream<T>({
    async pull(controller) {
      pulls++;
      const next = items.shift();
      if (next !== undefined) controller.enqueue(next);
      else await gate.promise;
    },
    cancel(reason) {
      cancelled.resolve(reason);
    },
  }, { highWaterMark: 0 });
  return { stream, cancelled: cancelled.promise, pulls: () => pulls };
}

Deno.test("catchStreamErrors forwards events and ends when the source ends", async () => {
  const end: ChatEvent = {
    type: "end",
    stopReason: "end_turn",
    usage: { inputTokens: 1, outputTokens: 1 },
  };
  assert.deepEqual(await collect(catchStreamErrors(ReadableStream.from([TEXT, end]))), [TEXT, end]);
});

Deno.test("catchStreamErrors turns a source failure into one error event", async (t) => {
  const failing = (err: unknown) => {
    let sent = false;
    return new ReadableStream<ChatEvent>({
      pull(controller) {
        if (sent) throw err;
        sent = true;
        controller.enqueue(TEXT);
      },
    }, { highWaterMark: 0 });
  };

  await t.step("a GatewayError is delivered as it is", async () => {
    const err = new GatewayError("upstream_protocol", "Kiro stream ended inside a frame");
    const out = await collect(catchStreamErrors(failing(err)));
    assert.deepEqual(out, [TEXT, { type: "error", error: err }]);
  });

  await t.step("any other failure becomes an internal error", async () => {
    const cause = new TypeError("boom");
    const out = await collect(catchStreamErrors(failing(cause)));
    const last = out.at(-1);
    assert.equal(out.length, 2);
    assert.ok(last?.type === "error");
    assert.equal(last.error.kind, "internal");
    assert.equal(last.error.cause, cause);
  });
});

Deno.test("catchStreamErrors reads the source only when read and passes a cancel on", async () => {
  const source = gatedSource<ChatEvent>([TEXT, TEXT]);
  const wrapped = catchStreamErrors(source.stream);
  const reader = wrapped.getReader();
  assert.equal(source.pulls(), 0, "nothing is read ahead");
  assert.deepEqual(await within(reader.read()), { done: false, value: TEXT });
  assert.equal(source.pulls(), 1);
  await reader.cancel("client left");
  assert.equal(await within(source.cancelled, 1000, "source cancel"), "client left");
});

Deno.test("withIdleTimeout forwards chunks that arrive in time", async () => {
  const out = await collect(
    withIdleTimeout(ReadableStream.from([1, 2, 3]), 1000, () => new Error("idle")),
  );
  assert.deepEqual(out, [1, 2, 3]);
});

Deno.test("withIdleTimeout errors and cancels the source when a chunk is late", async () => {
  const source = gatedSource([1]);
  const timeout = new GatewayError("upstream_timeout", "Kiro sent nothing for 5 ms");
  const reader = withIdleTimeout(source.stream, 5, () => timeout).getReader();
  assert.deepEqual(await within(reader.read()), { done: false, value: 1 });
  await assert.rejects(within(reader.read()), (err) => err === timeout);
  assert.equal(await within(source.cancelled, 1000, "source cancel"), timeout);
});

Deno.test("withIdleTimeout clears its timer when cancelled", async () => {
  const source = gatedSource<number>([]);
  let timedOut = false;
  const reader = withIdleTimeout(source.stream, 20, () => {
    timedOut = true;
    return new Error("idle");
  }).getReader();
  const pending = reader.read();
  await reader.cancel("bye");
  assert.deepEqual(await within(pending), { done: true, value: undefined });
  assert.equal(await within(source.cancelled, 1000, "source cancel"), "bye");
  assert.equal(timedOut, false);
});
