import assert from "node:assert/strict";
import type { KiroAccess } from "../../src/auth/token_source.ts";
import { type Config, defaultConfig } from "../../src/config.ts";
import { GatewayError } from "../../src/errors.ts";
import { KiroClient, parseRetryAfter } from "../../src/kiro/client.ts";
import { Logger, silentLogger } from "../../src/log.ts";
import { GENERATE_PATH, startFakeKiro } from "../fake_kiro.ts";
import { concatBytes, textFrame } from "../frames.ts";
import { within } from "../helpers.ts";
import { STUB_ARN as ARN, stubTokens } from "./stub_tokens.ts";

const FINGERPRINT = "f".repeat(64);

function makeClient(url: string, overrides: Partial<Config> = {}, logger = silentLogger()) {
  const sleeps: number[] = [];
  const tokens = stubTokens();
  const client = new KiroClient({
    config: defaultConfig({ upstream: { api: url }, ...overrides }),
    tokens,
    logger,
    fingerprint: FINGERPRINT,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  return { client, sleeps, tokens };
}

const body = (access: KiroAccess) => JSON.stringify({ profileArn: access.profileArn });

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    const stream = await promise;
    if (stream instanceof ReadableStream) await stream.cancel();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${err}`);
    return err;
  }
  assert.fail("expected a rejection");
}

Deno.test("a call sends Kiro's headers and body and returns the whole stream", async () => {
  await using kiro = await startFakeKiro();
  const frame = textFrame("Hi");
  kiro.replay({ frames: [frame, frame] });
  const { client } = makeClient(kiro.url);
  const stream = await client.send({ buildBody: body }, new AbortController().signal);
  assert.equal(await readAll(stream), frame.byteLength * 2);
  const request = await kiro.nextRequest(GENERATE_PATH);
  assert.equal(request.method, "POST");
  assert.deepEqual(request.body, { profileArn: ARN });
  const h = request.headers;
  assert.equal(h["authorization"], "Bearer token-1");
  assert.equal(h["content-type"], "application/x-amz-json-1.0");
  assert.equal(h["x-amz-target"], "AmazonCodeWhispererStreamingService.GenerateAssistantResponse");
  assert.ok(h["user-agent"]!.endsWith(`KiroIDE-0.7.45-${FINGERPRINT}`));
  assert.equal(h["x-amz-user-agent"], `aws-sdk-js/1.0.27 KiroIDE-0.7.45-${FINGERPRINT}`);
  assert.equal(h["x-amzn-codewhisperer-optout"], "true");
  assert.equal(h["x-amzn-kiro-agent-mode"], "vibe");
  assert.match(h["amz-sdk-invocation-id"]!, /^[0-9a-f-]{36}$/);
  assert.equal(h["amz-sdk-request"], "attempt=1; max=3");
});

Deno.test("a 403 refreshes the token once and retries with the new one", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay({ status: 403, body: { message: "expired" } }, { frames: [textFrame("ok")] });
  const { client, tokens, sleeps } = makeClient(kiro.url);
  await readAll(await client.send({ buildBody: body }, new AbortController().signal));
  assert.deepEqual(tokens.forced, ["token-1"]);
  assert.equal(kiro.requests[0]!.headers["authorization"], "Bearer token-1");
  assert.equal(kiro.requests[1]!.headers["authorization"], "Bearer token-2");
  assert.deepEqual(sleeps, []);
});

Deno.test("429 and 5xx back off 1 s then 2 s, and Retry-After wins", async (t) => {
  await t.step("backoff doubles", async () => {
    await using kiro = await startFakeKiro();
    kiro.replay({ status: 429, body: "slow down" }, { status: 500, body: "oops" }, {
      frames: [textFrame("ok")],
    });
    const { client, sleeps } = makeClient(kiro.url);
    await readAll(await client.send({ buildBody: body }, new AbortController().signal));
    assert.deepEqual(sleeps, [1000, 2000]);
    assert.equal(kiro.requests.length, 3);
  });
  await t.step("Retry-After seconds", async () => {
    await using kiro = await startFakeKiro();
    kiro.replay({ status: 429, headers: { "retry-after": "3" }, body: "x" }, {
      frames: [textFrame("ok")],
    });
    const { client, sleeps } = makeClient(kiro.url);
    await readAll(await client.send({ buildBody: body }, new AbortController().signal));
    assert.deepEqual(sleeps, [3000]);
  });
  await t.step("a Retry-After too long to wait goes back to the client", async () => {
    await using kiro = await startFakeKiro();
    kiro.replay({ status: 429, headers: { "retry-after": "120" }, body: { message: "later" } });
    const { client, sleeps } = makeClient(kiro.url);
    const err = await rejection(client.send({ buildBody: body }, new AbortController().signal));
    assert.equal(err.kind, "rate_limited");
    assert.equal(err.retryAfterSeconds, 120);
    assert.deepEqual(sleeps, []);
  });
});

Deno.test("three failures give up with the last status and no wasted final sleep", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay(
    { status: 500, body: { message: "a" } },
    { status: 502, body: { message: "b" } },
    { status: 503, body: { message: "c" } },
  );
  const { client, sleeps } = makeClient(kiro.url);
  const err = await rejection(client.send({ buildBody: body }, new AbortController().signal));
  assert.equal(err.upstreamStatus, 503);
  assert.equal(err.kind, "overloaded");
  assert.deepEqual(sleeps, [1000, 2000]);
  assert.equal(kiro.requests.length, 3);
});

Deno.test("a 400 is not retried and keeps Kiro's reason plus the likely cause", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay({ status: 400, body: { message: "Improperly formed request.", reason: null } });
  const { client, sleeps } = makeClient(kiro.url);
  const err = await rejection(
    client.send(
      { buildBody: body, likelyCause: () => "history does not alternate" },
      new AbortController().signal,
    ),
  );
  assert.equal(err.kind, "invalid_request");
  assert.match(err.message, /history does not alternate/);
  assert.equal(kiro.requests.length, 1);
  assert.deepEqual(sleeps, []);
});

Deno.test("a context overflow becomes a context-length error", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay({
    status: 400,
    body: { message: "Input is too long.", reason: "CONTENT_LENGTH_EXCEEDS_THRESHOLD" },
  });
  const { client } = makeClient(kiro.url);
  const err = await rejection(client.send({ buildBody: body }, new AbortController().signal));
  assert.equal(err.kind, "context_length");
});

Deno.test("network errors are retried, then reported as unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now: connections are refused
  const { client, sleeps } = makeClient(`http://127.0.0.1:${port}`);
  const err = await rejection(client.send({ buildBody: body }, new AbortController().signal));
  assert.equal(err.kind, "upstream_unreachable");
  assert.match(err.message, /^Cannot reach Kiro: /);
  assert.deepEqual(sleeps, [1000, 2000]);
});

Deno.test("a first byte that does not come starts a fresh attempt", async (t) => {
  await t.step("headers that never come", async () => {
    await using kiro = await startFakeKiro();
    const never = new Promise<void>(() => {});
    const [slow] = kiro.replay({ gate: never, frames: [textFrame("late")] }, {
      frames: [textFrame("ok")],
    });
    const { client } = makeClient(kiro.url, { firstTokenTimeoutMs: 50 });
    const stream = await within(client.send({ buildBody: body }, new AbortController().signal));
    assert.ok((await readAll(stream)) > 0);
    assert.equal(kiro.requests.length, 2);
    void slow;
  });
  await t.step("a body that stays silent after 200", async () => {
    await using kiro = await startFakeKiro();
    const [silent] = kiro.replay({ stallAfter: 0, frames: [textFrame("late")] }, {
      frames: [textFrame("ok")],
    });
    const { client } = makeClient(kiro.url, { firstTokenTimeoutMs: 50 });
    await readAll(await within(client.send({ buildBody: body }, new AbortController().signal)));
    await within(silent!.cancelled, 2000, "the silent body's cancellation");
  });
  await t.step("every attempt silent: upstream_timeout", async () => {
    await using kiro = await startFakeKiro();
    kiro.replay(
      { stallAfter: 0, frames: [textFrame("x")] },
      { stallAfter: 0, frames: [textFrame("x")] },
    );
    const { client } = makeClient(kiro.url, { firstTokenTimeoutMs: 30, firstTokenMaxRetries: 2 });
    const err = await within(
      rejection(client.send({ buildBody: body }, new AbortController().signal)),
    );
    assert.equal(err.kind, "upstream_timeout");
    assert.match(err.message, /after 2 attempts/);
  });
});

Deno.test("a stall in the middle of the answer ends the stream with a timeout error", async () => {
  await using kiro = await startFakeKiro();
  const [reply] = kiro.replay({ stallAfter: 1, frames: [textFrame("a"), textFrame("b")] });
  const { client } = makeClient(kiro.url, { streamingReadTimeoutMs: 50 });
  const stream = await client.send({ buildBody: body }, new AbortController().signal);
  const err = await within(rejection(readAll(stream)));
  assert.equal(err.kind, "upstream_timeout");
  assert.match(err.message, /STREAMING_READ_TIMEOUT/);
  await within(reply!.cancelled);
});

Deno.test("aborting the caller's signal cancels the upstream call", async (t) => {
  await t.step("while waiting for the first byte", async () => {
    await using kiro = await startFakeKiro();
    const [reply] = kiro.replay({ stallAfter: 0, frames: [textFrame("x")] });
    const { client } = makeClient(kiro.url);
    const abort = new AbortController();
    const sending = client.send({ buildBody: body }, abort.signal);
    await kiro.nextRequest(GENERATE_PATH);
    abort.abort();
    await assert.rejects(sending);
    await within(reply!.cancelled);
  });
  await t.step("by cancelling the returned stream mid-answer", async () => {
    await using kiro = await startFakeKiro();
    const [reply] = kiro.replay({ stallAfter: 1, frames: [textFrame("a"), textFrame("b")] });
    const { client } = makeClient(kiro.url);
    const stream = await client.send({ buildBody: body }, new AbortController().signal);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel();
    await within(reply!.cancelled);
  });
});

Deno.test("retries are logged without the token", async () => {
  await using kiro = await startFakeKiro();
  kiro.replay({ status: 403, body: "no" }, { frames: [textFrame("ok")] });
  const lines: string[] = [];
  const { client } = makeClient(
    kiro.url,
    {},
    new Logger({ level: "debug", write: (l) => lines.push(l) }),
  );
  await readAll(await client.send({ buildBody: body }, new AbortController().signal));
  assert.ok(lines.some((l) => l.includes("status=403")));
  assert.ok(!lines.some((l) => l.includes("token-1")));
});

Deno.test("Retry-After parses seconds and HTTP dates", () => {
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("Wed, 25 Nov 2026 00:00:10 GMT", Date.UTC(2026, 10, 25)), 10_000);
  assert.equal(parseRetryAfter("soon"), undefined);
});

Deno.test("chunks read from the returned stream stay intact after later reads", async () => {
  await using kiro = await startFakeKiro();
  const frames = Array.from({ length: 30 }, (_, i) => textFrame(`part ${i}`));
  kiro.replay({ frames });
  const { client } = makeClient(kiro.url);
  const stream = await client.send({ buildBody: () => "{}" }, new AbortController().signal);
  // Every chunk is kept until the end: a chunk lent from the read buffer would be emptied.
  const chunks = await Array.fromAsync(stream);
  const received = new Uint8Array(chunks.reduce((sum, c) => sum + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    received.set(chunk, at);
    at += chunk.byteLength;
  }
  assert.ok(chunks.length > 1, `read ${chunks.length} chunks`);
  assert.deepEqual(received, concatBytes(...frames));
});
