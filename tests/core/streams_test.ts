import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { eventBatches, onEventsEnd } from "../../src/core/event_batches.ts";
import { pipeToEvents } from "../../src/core/streams.ts";
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

Deno.test("pipeToEvents without steps forwards events and ends when the source ends", async () => {
  const end: ChatEvent = {
    type: "end",
    stopReason: "end_turn",
    usage: { inputTokens: 1, outputTokens: 1 },
  };
  assert.deepEqual(await collect(pipeToEvents(ReadableStream.from([TEXT, end]), {})), [TEXT, end]);
});

Deno.test("pipeToEvents without steps turns a source failure into one error event", async (t) => {
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
    const out = await collect(pipeToEvents(failing(err), {}));
    assert.deepEqual(out, [TEXT, { type: "error", error: err }]);
  });

  await t.step("any other failure becomes an internal error", async () => {
    const cause = new TypeError("boom");
    const out = await collect(pipeToEvents(failing(cause), {}));
    const last = out.at(-1);
    assert.equal(out.length, 2);
    assert.ok(last?.type === "error");
    assert.equal(last.error.kind, "internal");
    assert.equal(last.error.cause, cause);
  });
});

Deno.test("pipeToEvents without steps reads the source only when read and passes a cancel on", async () => {
  const source = gatedSource<ChatEvent>([TEXT, TEXT]);
  const wrapped = pipeToEvents(source.stream, {});
  const reader = wrapped.getReader();
  assert.equal(source.pulls(), 0, "nothing is read ahead");
  assert.deepEqual(await within(reader.read()), { done: false, value: TEXT });
  assert.equal(source.pulls(), 1);
  await reader.cancel("client left");
  assert.equal(await within(source.cancelled, 1000, "source cancel"), "client left");
});

Deno.test("pipeToEvents runs its steps on each chunk and flushes at the end", async () => {
  const seen: string[] = [];
  const steps: Transformer<string, ChatEvent> = {
    transform(chunk, controller) {
      for (const word of chunk.split(" ")) controller.enqueue({ type: "text", text: word });
    },
    flush(controller) {
      controller.enqueue({
        type: "end",
        stopReason: "end_turn",
        usage: { inputTokens: 0, outputTokens: 0 },
      });
    },
  };
  const out = await collect(
    pipeToEvents(ReadableStream.from(["a b", "c"]), steps, { onEvent: (e) => seen.push(e.type) }),
  );
  assert.deepEqual(out.map((e) => e.type === "text" ? e.text : e.type), ["a", "b", "c", "end"]);
  assert.deepEqual(seen, ["text", "text", "text", "end"]);
});

Deno.test("pipeToEvents turns a failing step into one error event and cancels the source", async () => {
  const source = gatedSource(["ok", "bad", "never"]);
  const failure = new GatewayError("upstream_protocol", "Kiro sent a corrupt frame");
  const steps: Transformer<string, ChatEvent> = {
    transform(chunk, controller) {
      if (chunk === "bad") throw failure;
      controller.enqueue({ type: "text", text: chunk });
    },
  };
  const out = await within(collect(pipeToEvents(source.stream, steps)));
  assert.deepEqual(out, [{ type: "text", text: "ok" }, { type: "error", error: failure }]);
  assert.equal(await within(source.cancelled), failure);
});

Deno.test("pipeToEvents reads only when read and passes a cancel to source and steps", async () => {
  const source = gatedSource(["x", "y"]);
  const stepCancelled = Promise.withResolvers<void>();
  const events = pipeToEvents(source.stream, {
    transform(chunk, controller) {
      controller.enqueue({ type: "text", text: chunk });
    },
    cancel() {
      stepCancelled.resolve();
    },
  });
  const reader = events.getReader();
  await reader.read();
  assert.equal(source.pulls(), 1);
  await reader.cancel("client left");
  assert.equal(await within(source.cancelled), "client left");
  await within(stepCancelled.promise);
});

Deno.test("pipeToEvents keeps reading through chunks that yield no event", async () => {
  const steps: Transformer<string, ChatEvent> = {
    transform(chunk, controller) {
      if (chunk !== "") controller.enqueue({ type: "text", text: chunk });
    },
  };
  const out = await within(collect(pipeToEvents(ReadableStream.from(["", "", "x", ""]), steps)));
  assert.deepEqual(out, [{ type: "text", text: "x" }]);
});

Deno.test("onEventsEnd watches pipeToEvents' events in place, once, before the end or on cancel", async (t) => {
  const toText: Transformer<string, ChatEvent> = {
    transform(chunk, controller) {
      controller.enqueue({ type: "text", text: chunk });
    },
  };
  await t.step("the end: told before the reader sees it", async () => {
    const seen: string[] = [];
    const events = pipeToEvents(ReadableStream.from(["a", "b"]), toText);
    const watched = onEventsEnd(events, () => {
      seen.push("end");
      return Promise.resolve();
    });
    assert.equal(watched, events, "no stage is added");
    const batches = eventBatches(watched);
    while (await batches.next()) seen.push("batch");
    seen.push("done");
    assert.deepEqual(seen, ["batch", "batch", "end", "done"]);
  });
  await t.step("a cancel: told once, and the source is cancelled", async () => {
    let ends = 0;
    const cancelled = Promise.withResolvers<unknown>();
    const source = new ReadableStream<string>({
      pull: (controller) => controller.enqueue("x"),
      cancel: (reason) => cancelled.resolve(reason),
    }, { highWaterMark: 0 });
    const watched = onEventsEnd(pipeToEvents(source, toText), () => {
      ends++;
      return Promise.resolve();
    });
    const reader = watched.getReader();
    await reader.read();
    await reader.cancel("gone");
    assert.equal(await cancelled.promise, "gone");
    assert.equal(ends, 1);
  });
});
