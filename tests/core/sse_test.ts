import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { sseBody, SseEncoderStream, type SseMessage } from "../../src/core/sse.ts";
import { watchBody } from "../../src/core/body_watch.ts";
import { eventBatches, onEventsEnd } from "../../src/core/event_batches.ts";
import { pipeToEvents } from "../../src/core/streams.ts";
import { collect, streamOf, within } from "../helpers.ts";

async function encode(messages: SseMessage[]): Promise<string> {
  const chunks = await collect(streamOf(messages).pipeThrough(new SseEncoderStream()));
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode();
}

Deno.test("SseEncoderStream writes server-sent events", async (t) => {
  const cases: { name: string; messages: SseMessage[]; wire: string }[] = [
    {
      name: "a named event with its data",
      messages: [{ event: "message_start", data: '{"type":"message_start"}' }],
      wire: 'event: message_start\ndata: {"type":"message_start"}\n\n',
    },
    {
      name: "data without an event name",
      messages: [{ data: "[DONE]" }],
      wire: "data: [DONE]\n\n",
    },
    {
      name: "each line of multi-line data on its own data line",
      messages: [{ event: "x", data: "one\ntwo\r\nthree\rfour" }],
      wire: "event: x\ndata: one\ndata: two\ndata: three\ndata: four\n\n",
    },
    {
      name: "empty data as one empty data line",
      messages: [{ data: "" }],
      wire: "data: \n\n",
    },
    {
      name: "several messages in order, non-ASCII text as UTF-8",
      messages: [{ data: "ü €" }, { event: "ping", data: "{}" }],
      wire: "data: ü €\n\nevent: ping\ndata: {}\n\n",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      assert.equal(await encode(c.messages), c.wire);
    });
  }
});

Deno.test("SseEncoderStream refuses an event name with a line break", async () => {
  await assert.rejects(encode([{ event: "a\nb", data: "" }]), /Cannot encode SSE event name/);
});

/** Steps that turn each string chunk into one text event per character (a read of frames). */
const perCharacter: Transformer<string, ChatEvent> = {
  transform(chunk, controller) {
    for (const text of chunk) controller.enqueue({ type: "text", text });
  },
  flush(controller) {
    controller.enqueue({
      type: "end",
      stopReason: "end_turn",
      usage: { inputTokens: 0, outputTokens: 0 },
    });
  },
};

/** Renders each text event as one message, and a start message. */
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

Deno.test("sseBody writes the messages of one upstream read as one chunk", async () => {
  const events = pipeToEvents(streamOf(["abc", "", "de"]), perCharacter);
  const chunks = (await collect(sseBody(events, render))).map((c) => new TextDecoder().decode(c));
  assert.deepEqual(chunks, [
    "event: start\ndata: {}\n\n",
    "data: a\n\ndata: b\n\ndata: c\n\n",
    "data: d\n\ndata: e\n\n",
    "data: [DONE]\n\n",
  ]);
});

Deno.test("sseBody keeps the batches through onEventsEnd and reports the end once", async () => {
  let ends = 0;
  const events = onEventsEnd(pipeToEvents(streamOf(["ab", "c"]), perCharacter), () => {
    ends++;
    return Promise.resolve();
  });
  const chunks = (await collect(sseBody(events, render))).map((c) => new TextDecoder().decode(c));
  assert.deepEqual(chunks.slice(1, 3), ["data: a\n\ndata: b\n\n", "data: c\n\n"]);
  assert.equal(ends, 1);
});

Deno.test("sseBody renders a plain event stream one event per chunk, and its cancel reaches the source", async () => {
  const cancelled = Promise.withResolvers<unknown>();
  let sent = 0;
  const source = new ReadableStream<ChatEvent>({
    pull(controller) {
      controller.enqueue({ type: "text", text: `t${sent++}` });
    },
    cancel: (reason) => cancelled.resolve(reason),
  }, { highWaterMark: 0 });
  const reader = sseBody(source, render).getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "event: start\ndata: {}\n\n");
  assert.equal(new TextDecoder().decode((await reader.read()).value), "data: t0\n\n");
  await reader.cancel("client left");
  assert.equal(await within(cancelled.promise), "client left");
});

Deno.test("the events of pipeToEvents can still be read one by one", async () => {
  const events = pipeToEvents(streamOf(["ab", "c"]), perCharacter);
  assert.deepEqual((await collect(events)).map((e) => e.type), ["text", "text", "text", "end"]);
  const batched = pipeToEvents(streamOf(["ab", "c"]), perCharacter);
  const batches = eventBatches(batched);
  const sizes: number[] = [];
  for (let batch = await batches.next(); batch; batch = await batches.next()) {
    sizes.push(batch.length);
  }
  assert.deepEqual(sizes, [2, 1, 1]);
});

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
