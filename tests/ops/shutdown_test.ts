import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import type { ChatEvent } from "../../src/core/chat.ts";
import { cutAtShutdown } from "../../src/core/shutdown.ts";
import { eventBatches } from "../../src/core/event_batches.ts";
import { pipeToEvents } from "../../src/core/streams.ts";
import { Logger, silentLogger } from "../../src/log.ts";
import { shutDownGracefully } from "../../src/main.ts";
import { createHandler } from "../../src/server.ts";
import { MemoryState } from "../../src/state/state.ts";
import { createFakeBackend } from "../fake_backend.ts";
import { within } from "../helpers.ts";
import { TEST_API_KEY } from "../test_gateway.ts";

const HELD: { events: ChatEvent[]; holdAfter: number } = {
  events: [
    { type: "text", text: "Working on it" },
    { type: "end", stopReason: "end_turn", usage: { inputTokens: 3, outputTokens: 3 } },
  ],
  holdAfter: 1,
};

Deno.test("cutAtShutdown passes events until the signal, then one error event and the end", async () => {
  const grace = new AbortController();
  const cancelled = Promise.withResolvers<void>();
  let sent = 0;
  const source = new ReadableStream<ChatEvent>({
    pull(controller) {
      if (sent++ === 0) controller.enqueue({ type: "text", text: "a" });
      else return new Promise<void>(() => {}); // an upstream that stays silent
    },
    cancel: () => cancelled.resolve(),
  }, { highWaterMark: 0 });
  const reader = cutAtShutdown(source, grace.signal).getReader();
  assert.deepEqual((await reader.read()).value, { type: "text", text: "a" });
  const next = reader.read();
  grace.abort();
  const cut = (await next).value;
  assert.equal(cut?.type, "error");
  assert.equal(cut?.type === "error" && cut.error.kind, "overloaded");
  assert.match(cut?.type === "error" ? cut.error.message : "", /shutting down/);
  assert.equal((await reader.read()).done, true);
  await within(cancelled.promise, 5000, "the upstream's cancellation");
});

Deno.test("a reply that ends before the signal is left alone", async () => {
  const grace = new AbortController();
  const events = await Array.fromAsync(
    cutAtShutdown(ReadableStream.from<ChatEvent>([{ type: "text", text: "done" }]), grace.signal),
  );
  grace.abort();
  assert.deepEqual(events, [{ type: "text", text: "done" }]);
});

Deno.test("cutAtShutdown keeps the batches of one upstream read and leaves no listener behind", async () => {
  const grace = new AbortController();
  let listeners = 0;
  const add = grace.signal.addEventListener.bind(grace.signal);
  const remove = grace.signal.removeEventListener.bind(grace.signal);
  grace.signal.addEventListener = (...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  };
  grace.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  };
  const reads = ReadableStream.from([["a", "b"], ["c"]]);
  const events = pipeToEvents(reads, {
    transform(texts: string[], controller) {
      for (const text of texts) controller.enqueue({ type: "text", text });
    },
  });
  const batches = eventBatches(cutAtShutdown(events, grace.signal));
  const texts = (batch: ChatEvent[] | undefined) =>
    batch?.map((event) => event.type === "text" ? event.text : event.type);
  assert.equal(listeners, 1);
  assert.deepEqual(texts(await batches.next()), ["a", "b"]);
  assert.deepEqual(texts(await batches.next()), ["c"]);
  assert.equal(await batches.next(), undefined);
  assert.equal(listeners, 0);
});

/** The three streaming routes and how each ends a reply with an in-band error. */
const STREAMS: { path: string; body: Record<string, unknown>; ending: RegExp }[] = [
  {
    path: "/v1/chat/completions",
    body: { model: "claude-sonnet-4.5", stream: true, messages: [{ role: "user", content: "Hi" }] },
    ending: /data: \{"error":\{[^\n]*shutting down[^\n]*\n\ndata: \[DONE\]\n\n$/,
  },
  {
    path: "/v1/messages",
    body: {
      model: "claude-sonnet-4.5",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    },
    ending:
      /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error","message":"The gateway is shutting down[^\n]*\n\n$/,
  },
  {
    path: "/v1/responses",
    body: { model: "claude-sonnet-4.5", stream: true, input: "Hi" },
    ending: /event: response\.failed\ndata: [^\n]*shutting down[^\n]*\n\n$/,
  },
];

Deno.test("SIGTERM's shutdown refuses new connections and ends open streams in-band at the grace end", async () => {
  const backend = createFakeBackend();
  backend.script(HELD);
  const grace = new AbortController();
  const logs: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler({
      config: defaultConfig({ proxyApiKey: TEST_API_KEY }),
      logger: new Logger({ level: "info", write: (line) => logs.push(line) }),
      backend,
      now: () => Date.now(),
      randomHex: (bytes) => "ab".repeat(bytes),
      startedAt: Date.now(),
      state: new MemoryState(),
      shutdown: grace.signal,
    }),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const open = await Promise.all(STREAMS.map(async (route) => {
    const res = await fetch(`${url}${route.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_API_KEY },
      body: JSON.stringify(route.body),
    });
    assert.equal(res.status, 200, route.path);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("Working on it")) text += (await reader.read()).value ?? "";
    return { route, reader, text };
  }));

  const exited = Promise.withResolvers<void>();
  let exitCalled = false;
  const graceEnded = Promise.withResolvers<void>();
  grace.signal.addEventListener("abort", () => graceEnded.resolve());
  const finished = shutDownGracefully(server, {
    graceMs: 300,
    grace,
    logger: silentLogger(),
    exit: () => {
      exitCalled = true;
      exited.resolve();
    },
  });
  // New connections are refused while the open streams still run.
  await assert.rejects(fetch(`${url}/health`));
  assert.ok(!grace.signal.aborted, "the grace period is still running");

  const endings = await within(
    Promise.all(open.map(async ({ route, reader, text }) => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { route, text };
        text += value;
      }
    })),
    10_000,
    "the streams' in-band end",
  );
  assert.ok(grace.signal.aborted, "the streams ended at the grace end, not before");
  for (const { route, text } of endings) assert.match(text, route.ending, route.path);
  await within(finished, 10_000, "the server's end");
  assert.equal(exitCalled, false, "the process did not have to be cut off");
  void exited;
  await graceEnded.promise;
});

Deno.test("cutAtShutdown cuts a pipeToEvents reply in place, while it waits on a silent upstream", async () => {
  const grace = new AbortController();
  const cancelled = Promise.withResolvers<unknown>();
  let sent = 0;
  const upstream = new ReadableStream<string>({
    pull(controller) {
      if (sent++ === 0) controller.enqueue("a");
      else return new Promise<void>(() => {}); // stays silent
    },
    cancel: (reason) => cancelled.resolve(reason),
  }, { highWaterMark: 0 });
  const events = pipeToEvents(upstream, {
    transform(text: string, controller) {
      controller.enqueue({ type: "text", text });
    },
    flush(controller) {
      controller.enqueue({ type: "text", text: "said after the cut: dropped" });
    },
  });
  const cut = cutAtShutdown(events, grace.signal);
  assert.equal(cut, events, "no stage is added");
  const batches = eventBatches(cut);
  assert.deepEqual(await batches.next(), [{ type: "text", text: "a" }]);
  const waiting = batches.next();
  grace.abort();
  const last = await within(waiting, 5000, "the cut");
  assert.equal(last?.length, 1);
  assert.equal(last?.[0]?.type === "error" && last[0].error.kind, "overloaded");
  assert.equal(await batches.next(), undefined);
  await within(cancelled.promise, 5000, "the upstream's cancellation");
});
