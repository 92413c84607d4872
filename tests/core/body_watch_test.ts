import assert from "node:assert/strict";
import { watchBody } from "../../src/core/body_watch.ts";
import type { ChatEvent } from "../../src/core/chat.ts";
import { sseBody, type SseMessage } from "../../src/core/sse.ts";
import { pipeToEvents } from "../../src/core/streams.ts";
import { collect, streamOf, within } from "../helpers.ts";

const render: Transformer<ChatEvent, SseMessage> = {
  start(controller) {
    controller.enqueue({ event: "start", data: "{}" });
  },
  transform(event, controller) {
    if (event.type === "text") controller.enqueue({ data: event.text });
  },
  flush(controller) {
    controller.enqueue({ data: "[DONE]" });
  },
};

const perCharacter: Transformer<string, ChatEvent> = {
  transform(chunk, controller) {
    for (const text of chunk) controller.enqueue({ type: "text", text });
  },
};

/** A watcher that records what it saw, and whether the body had ended when it was told. */
function recorder() {
  const seen: string[] = [];
  let ends = 0;
  return {
    seen,
    ends: () => ends,
    observer: {
      onChunk: (chunk: Uint8Array) => seen.push(new TextDecoder().decode(chunk)),
      onEnd: () => {
        ends++;
        seen.push("<end>");
        return Promise.resolve();
      },
    },
  };
}

Deno.test("an SSE body is watched in place: every chunk, the first included, then the end before the close", async () => {
  const body = sseBody(pipeToEvents(streamOf(["ab", "c"]), perCharacter), render);
  const watch = recorder();
  const watched = watchBody(body, watch.observer);
  assert.equal(watched, body, "no stream is put around an SSE body");
  const received = (await collect(watched)).map((c) => new TextDecoder().decode(c));
  assert.deepEqual(watch.seen, [...received, "<end>"]);
  assert.equal(received[0], "event: start\ndata: {}\n\n");
  assert.equal(watch.ends(), 1);
});

Deno.test("a cancelled SSE body tells its watcher once and cancels its source", async () => {
  const cancelled = Promise.withResolvers<unknown>();
  const source = new ReadableStream<ChatEvent>({
    pull(controller) {
      controller.enqueue({ type: "text", text: "t" });
    },
    cancel: (reason) => cancelled.resolve(reason),
  }, { highWaterMark: 0 });
  const watch = recorder();
  const reader = watchBody(sseBody(source, render), watch.observer).getReader();
  await reader.read();
  await reader.cancel("client left");
  assert.equal(await within(cancelled.promise), "client left");
  assert.equal(watch.ends(), 1);
});

Deno.test("any other body is forwarded through a watching stream", async () => {
  const body = streamOf([new Uint8Array([1]), new Uint8Array([2, 3])]);
  const watch = recorder();
  const watched = watchBody(body, watch.observer);
  assert.notEqual(watched, body);
  assert.equal((await collect(watched)).length, 2);
  assert.equal(watch.seen.length, 3);
  assert.equal(watch.seen.at(-1), "<end>");
});
