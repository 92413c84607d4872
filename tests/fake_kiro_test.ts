import assert from "node:assert/strict";
import { FrameDecoderStream } from "../src/kiro/eventstream.ts";
import { type KiroEvent, KiroEventStream } from "../src/kiro/events.ts";
import { GENERATE_PATH, startFakeKiro } from "./fake_kiro.ts";
import { concatBytes, meteringFrame, textFrame } from "./frames.ts";
import { collect, within } from "./helpers.ts";

function post(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}${GENERATE_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer test-token" },
    body: JSON.stringify(body),
    signal,
  });
}

function eventsOf(res: Response): Promise<KiroEvent[]> {
  const events = res.body!
    .pipeThrough(new FrameDecoderStream())
    .pipeThrough(new KiroEventStream());
  return within(collect(events));
}

Deno.test("the fake replays frames and records the request", async () => {
  await using kiro = await startFakeKiro();
  const [handle] = kiro.replay({ frames: [textFrame("Hi"), meteringFrame(0.5)] });
  const res = await post(kiro.url, { conversationState: { x: 1 } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
  assert.deepEqual(await eventsOf(res), [
    { type: "text", text: "Hi" },
    { type: "metering", credits: 0.5 },
  ]);
  await within(handle!.completed);
  const request = await within(kiro.nextRequest(GENERATE_PATH));
  assert.equal(request.method, "POST");
  assert.equal(request.path, GENERATE_PATH);
  assert.equal(request.headers.authorization, "Bearer test-token");
  assert.deepEqual(request.body, { conversationState: { x: 1 } });
  assert.equal(await within(handle!.request), request);
  assert.equal(kiro.requests.length, 1);
});

Deno.test("replies are served in order and chunkSizes cut the bytes", async () => {
  await using kiro = await startFakeKiro();
  const bytes = concatBytes(textFrame("one"), textFrame("two"));
  const [, second] = kiro.replay(
    { frames: [textFrame("first")] },
    { raw: bytes, chunkSizes: [3, 5], stallAfter: 2 },
  );
  assert.deepEqual(await eventsOf(await post(kiro.url, {})), [{ type: "text", text: "first" }]);
  // Stalled after two chunks, the client can read exactly 3 + 5 bytes.
  const reader = (await post(kiro.url, {})).body!.getReader();
  const received: Uint8Array[] = [];
  while (received.reduce((sum, c) => sum + c.byteLength, 0) < 8) {
    const { value } = await within(reader.read());
    received.push(value!);
  }
  assert.deepEqual(concatBytes(...received), bytes.subarray(0, 8));
  await reader.cancel();
  await within(second!.cancelled);
});

Deno.test("an empty queue answers a default text stream", async () => {
  await using kiro = await startFakeKiro();
  const events = await eventsOf(await post(kiro.url, {}));
  assert.deepEqual(events[0], { type: "text", text: "Hello from the fake Kiro" });
});

Deno.test("error replies carry their status, headers and JSON body", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay({
    status: 429,
    headers: { "retry-after": "7" },
    body: { message: "Too many requests", reason: "THROTTLED" },
  });
  const res = await post(kiro.url, {});
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.deepEqual(await res.json(), { message: "Too many requests", reason: "THROTTLED" });
});

Deno.test("a gate holds the response until the test opens it", async () => {
  await using kiro = await startFakeKiro();
  const gate = Promise.withResolvers<void>();
  const [handle] = kiro.replay({ frames: [textFrame("late")], gate: gate.promise });
  const pending = post(kiro.url, {});
  await within(handle!.request);
  let answered = false;
  pending.then(() => answered = true, () => {});
  // A full round trip to the same server proves it had time to answer and did not.
  kiro.route("GET", "/ping", () => new Response("pong"));
  assert.equal(await (await fetch(`${kiro.url}/ping`)).text(), "pong");
  assert.equal(answered, false);
  gate.resolve();
  assert.deepEqual(await eventsOf(await within(pending)), [{ type: "text", text: "late" }]);
});

Deno.test("a client abort while gated does not leave the fake hanging", async () => {
  await using kiro = await startFakeKiro();
  const [handle] = kiro.replay({ frames: [textFrame("never")], gate: new Promise(() => {}) });
  const abort = new AbortController();
  const pending = post(kiro.url, {}, abort.signal);
  await within(handle!.request);
  abort.abort();
  await assert.rejects(pending);
});

Deno.test("cancelling a stalled body resolves the reply's cancelled promise", async () => {
  await using kiro = await startFakeKiro();
  const [handle] = kiro.replay({
    frames: [textFrame("a"), textFrame("b"), textFrame("c")],
    stallAfter: 1,
  });
  const res = await post(kiro.url, {});
  const reader = res.body!.getReader();
  const first = await within(reader.read());
  assert.equal(first.done, false);
  await reader.cancel();
  await within(handle!.cancelled, 5000, "upstream cancel");
});

Deno.test("a stall ends when resume settles", async () => {
  await using kiro = await startFakeKiro();
  const resume = Promise.withResolvers<void>();
  const [handle] = kiro.replay({
    frames: [textFrame("a"), textFrame("b")],
    stallAfter: 1,
    resume: resume.promise,
  });
  const res = await post(kiro.url, {});
  const events = eventsOf(res);
  await within(kiro.nextRequest());
  resume.resolve();
  assert.deepEqual(await events, [{ type: "text", text: "a" }, { type: "text", text: "b" }]);
  await within(handle!.completed);
});

Deno.test("extra routes answer and are recorded with their query", async () => {
  await using kiro = await startFakeKiro();
  kiro.route("GET", "/ListAvailableModels", () => Response.json({ models: [{ modelId: "m" }] }));
  const res = await fetch(`${kiro.url}/ListAvailableModels?origin=AI_EDITOR`);
  assert.deepEqual(await res.json(), { models: [{ modelId: "m" }] });
  const request = await within(kiro.nextRequest("/ListAvailableModels"));
  assert.deepEqual(request.query, { origin: "AI_EDITOR" });
  const missing = await fetch(`${kiro.url}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("nextRequest waits for a request that has not arrived yet", async () => {
  await using kiro = await startFakeKiro();
  kiro.route("POST", "/refreshToken", () => Response.json({ accessToken: "new" }));
  const next = kiro.nextRequest("/refreshToken");
  const res = await fetch(`${kiro.url}/refreshToken`, {
    method: "POST",
    body: JSON.stringify({ refreshToken: "r" }),
  });
  await res.body?.cancel();
  assert.deepEqual((await within(next)).body, { refreshToken: "r" });
});
