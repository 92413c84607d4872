import assert from "node:assert/strict";
import { encodeFrame, FrameDecoderStream } from "../../src/kiro/eventstream.ts";
import { type KiroEvent, KiroEventStream } from "../../src/kiro/events.ts";
import { GatewayError } from "../../src/errors.ts";
import { Logger, type LogRecord } from "../../src/log.ts";
import { collect, streamOf, within } from "../helpers.ts";
import {
  concatBytes,
  contextUsageFrame,
  errorFrame,
  exceptionFrame,
  kiroFrame,
  meteringFrame,
  textFrame,
  toolFrames,
} from "../frames.ts";

const TOOL_ID = "tooluse_Q1w2E3r4T5y6U7i8O9p0Aa";

/** Decodes binary frames (cut into `chunkBytes`-sized chunks if given) into Kiro events. */
function eventsOf(
  frames: Uint8Array[],
  options: { chunkBytes?: number; logger?: Logger } = {},
): ReadableStream<KiroEvent> {
  let chunks = frames;
  if (options.chunkBytes) {
    const all = concatBytes(...frames);
    chunks = [];
    for (let at = 0; at < all.byteLength; at += options.chunkBytes) {
      chunks.push(all.subarray(at, at + options.chunkBytes));
    }
  }
  return streamOf(chunks)
    .pipeThrough(new FrameDecoderStream())
    .pipeThrough(new KiroEventStream({ logger: options.logger }));
}

function decodeEvents(
  frames: Uint8Array[],
  options: { chunkBytes?: number; logger?: Logger } = {},
): Promise<KiroEvent[]> {
  return within(collect(eventsOf(frames, options)));
}

/** Reads events until the stream errors; returns the events delivered and the error. */
async function eventsThenError(frames: Uint8Array[]): Promise<[KiroEvent[], GatewayError]> {
  const events: KiroEvent[] = [];
  const reader = eventsOf(frames).getReader();
  try {
    while (true) {
      const { done, value } = await within(reader.read());
      if (done) throw new Error("The stream ended without an error");
      events.push(value);
    }
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${err}`);
    return [events, err];
  }
}

Deno.test("the §4.4 sequence decodes into typed events in order", async () => {
  const events = await decodeEvents([
    textFrame("I'll check "),
    textFrame("the files."),
    ...toolFrames(TOOL_ID, "bash", ["", `{"cmd": `, `"ls -la"}`]),
    meteringFrame(0.0421),
    contextUsageFrame(3.187),
  ]);
  assert.deepEqual(events, [
    { type: "text", text: "I'll check " },
    { type: "text", text: "the files." },
    { type: "tool_start", toolUseId: TOOL_ID, name: "bash" },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: `{"cmd": ` },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: `"ls -la"}` },
    { type: "tool_stop", toolUseId: TOOL_ID, name: "bash" },
    { type: "metering", credits: 0.0421 },
    { type: "context_usage", percentage: 3.187 },
  ]);
});

Deno.test("each event type maps to its KiroEvent", async (t) => {
  const cases: { name: string; frame: Uint8Array; events: KiroEvent[] }[] = [
    {
      name: "a text delta with extra fields",
      frame: kiroFrame("assistantResponseEvent", {
        content: "Hi",
        conversationId: "c1",
        messageStatus: "IN_PROGRESS",
        modelId: "claude-sonnet-4.5",
      }),
      events: [{ type: "text", text: "Hi" }],
    },
    {
      name: "metering with camelCase cache tokens",
      frame: kiroFrame("meteringEvent", {
        cacheCreationInputTokens: 12,
        cacheReadInputTokens: 345,
        unit: "credit",
        usage: 0.5,
      }),
      events: [{
        type: "metering",
        credits: 0.5,
        cacheReadInputTokens: 345,
        cacheCreationInputTokens: 12,
      }],
    },
    {
      name: "metering with snake_case cache tokens",
      frame: kiroFrame("meteringEvent", {
        cache_creation_input_tokens: 7,
        cache_read_input_tokens: 8,
        usage: 1,
      }),
      events: [{
        type: "metering",
        credits: 1,
        cacheReadInputTokens: 8,
        cacheCreationInputTokens: 7,
      }],
    },
    {
      name: "context usage",
      frame: contextUsageFrame(12.3456),
      events: [{ type: "context_usage", percentage: 12.3456 }],
    },
    {
      name: "reasoning text",
      frame: kiroFrame("reasoningContentEvent", { text: "Let me think" }),
      events: [{ type: "reasoning", text: "Let me think" }],
    },
    {
      name: "a reasoning signature",
      frame: kiroFrame("reasoningContentEvent", { signature: "sig==" }),
      events: [{ type: "reasoning", text: "", signature: "sig==" }],
    },
    {
      name: "redacted reasoning",
      frame: kiroFrame("reasoningContentEvent", { redactedContent: "b64" }),
      events: [{ type: "reasoning", text: "", redacted: "b64" }],
    },
    {
      name: "reasoning text nested in reasoningText",
      frame: kiroFrame("reasoningContentEvent", { reasoningText: { text: "Hmm" } }),
      events: [{ type: "reasoning", text: "Hmm" }],
    },
    {
      name: "a nested signature",
      frame: kiroFrame("reasoningContentEvent", { reasoningText: { signature: "S1" } }),
      events: [{ type: "reasoning", text: "", signature: "S1" }],
    },
    {
      name: "nested text with its signature",
      frame: kiroFrame("reasoningContentEvent", { reasoningText: { signature: "S", text: "t" } }),
      events: [{ type: "reasoning", text: "t", signature: "S" }],
    },
    {
      name: "redacted content as byte values",
      frame: kiroFrame("reasoningContentEvent", { redactedContent: [65, 66, 67] }),
      events: [{ type: "reasoning", text: "", redacted: "QUJD" }],
    },
    {
      name: "metadata with cache counts",
      frame: kiroFrame("metadataEvent", {
        tokenUsage: {
          cacheReadInputTokens: 900,
          cacheWriteInputTokens: 50,
          outputTokens: 20,
          uncachedInputTokens: 100,
        },
      }),
      events: [{
        type: "metadata",
        uncachedInputTokens: 100,
        cacheReadInputTokens: 900,
        cacheWriteInputTokens: 50,
        outputTokens: 20,
      }],
    },
    {
      name: "metadata with a camelCase stop reason",
      frame: kiroFrame("metadataEvent", { stopReason: "end_turn" }),
      events: [{ type: "metadata", stopReason: "end_turn" }],
    },
    {
      name: "metadata with a snake_case stop reason",
      frame: kiroFrame("metadataEvent", { stop_reason: "max_tokens" }),
      events: [{ type: "metadata", stopReason: "max_tokens" }],
    },
    {
      name: "metadata with token usage",
      frame: kiroFrame("metadataEvent", {
        tokenUsage: { inputTokens: 10, outputTokens: 20, totalTokens: 30 },
      }),
      events: [{ type: "metadata", inputTokens: 10, outputTokens: 20, totalTokens: 30 }],
    },
    {
      name: "a tool call carrying name, object input and stop in one payload",
      frame: kiroFrame("toolUseEvent", {
        input: { path: "a.txt" },
        name: "read",
        stop: true,
        toolUseId: TOOL_ID,
      }),
      events: [
        { type: "tool_start", toolUseId: TOOL_ID, name: "read" },
        { type: "tool_input", toolUseId: TOOL_ID, name: "read", input: `{"path":"a.txt"}` },
        { type: "tool_stop", toolUseId: TOOL_ID, name: "read" },
      ],
    },
    {
      name: "a tool call with an empty object input",
      frame: kiroFrame("toolUseEvent", { input: {}, name: "now", stop: true, toolUseId: TOOL_ID }),
      events: [
        { type: "tool_start", toolUseId: TOOL_ID, name: "now" },
        { type: "tool_stop", toolUseId: TOOL_ID, name: "now" },
      ],
    },
    {
      name: "a text event with a followupPrompt (skipped)",
      frame: kiroFrame("assistantResponseEvent", {
        content: "Ask me more",
        followupPrompt: { content: "More?", userIntent: "x" },
      }),
      events: [],
    },
    {
      name: "a followupPromptEvent (skipped)",
      frame: kiroFrame("followupPromptEvent", { followupPrompt: { content: "More?" } }),
      events: [],
    },
    {
      name: "an unknown event type (skipped)",
      frame: kiroFrame("brandNewEvent", { anything: 1 }),
      events: [],
    },
    {
      name: "an unknown event type with a non-JSON payload (skipped)",
      frame: kiroFrame("brandNewEvent", "not json"),
      events: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      assert.deepEqual(await decodeEvents([c.frame]), c.events);
    });
  }
});

Deno.test("payload keys are read by name whatever their order", async () => {
  const frames = [
    kiroFrame("toolUseEvent", `{"toolUseId":"${TOOL_ID}","name":"bash","input":"{}","stop":true}`),
    kiroFrame("meteringEvent", `{"usage":0.25,"unitPlural":"credits","unit":"credit"}`),
    kiroFrame("assistantResponseEvent", `{"modelId":"m","content":"x"}`),
  ];
  assert.deepEqual(await decodeEvents(frames), [
    { type: "tool_start", toolUseId: TOOL_ID, name: "bash" },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: "{}" },
    { type: "tool_stop", toolUseId: TOOL_ID, name: "bash" },
    { type: "metering", credits: 0.25 },
    { type: "text", text: "x" },
  ]);
});

Deno.test("repeated identical text deltas are all kept", async () => {
  const events = await decodeEvents([textFrame("\n\n"), textFrame("\n\n"), textFrame("a")]);
  assert.deepEqual(events.map((e) => e.type === "text" && e.text), ["\n\n", "\n\n", "a"]);
});

Deno.test("a tool call split across frames and chunk boundaries assembles in order", async (t) => {
  const frames = [
    textFrame("Running it."),
    ...toolFrames(TOOL_ID, "bash", ["", `{"cmd"`, `: "ls"`, "}"]),
    ...toolFrames("tooluse_second", "read", [`{"path":"a"}`]),
  ];
  const expected: KiroEvent[] = [
    { type: "text", text: "Running it." },
    { type: "tool_start", toolUseId: TOOL_ID, name: "bash" },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: `{"cmd"` },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: `: "ls"` },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: "}" },
    { type: "tool_stop", toolUseId: TOOL_ID, name: "bash" },
    { type: "tool_start", toolUseId: "tooluse_second", name: "read" },
    { type: "tool_input", toolUseId: "tooluse_second", name: "read", input: `{"path":"a"}` },
    { type: "tool_stop", toolUseId: "tooluse_second", name: "read" },
  ];
  for (const chunkBytes of [1, 7, 64, 1000]) {
    await t.step(`in ${chunkBytes}-byte chunks`, async () => {
      assert.deepEqual(await decodeEvents(frames, { chunkBytes }), expected);
    });
  }
});

Deno.test("a repeated start frame for a known tool id starts the call only once", async () => {
  const frames = [
    kiroFrame("toolUseEvent", { name: "bash", toolUseId: TOOL_ID }),
    kiroFrame("toolUseEvent", { name: "bash", toolUseId: TOOL_ID }),
    kiroFrame("toolUseEvent", { input: "{}", toolUseId: TOOL_ID }),
    kiroFrame("toolUseEvent", { stop: true, toolUseId: TOOL_ID }),
  ];
  assert.deepEqual(await decodeEvents(frames), [
    { type: "tool_start", toolUseId: TOOL_ID, name: "bash" },
    { type: "tool_input", toolUseId: TOOL_ID, name: "bash", input: "{}" },
    { type: "tool_stop", toolUseId: TOOL_ID, name: "bash" },
  ]);
});

Deno.test("exception and error frames end the stream with a typed error after the prefix", async (t) => {
  const cases: { name: string; frame: Uint8Array; kind: string; message: RegExp }[] = [
    {
      name: "ThrottlingException is rate_limited",
      frame: exceptionFrame("ThrottlingException", "Too many requests"),
      kind: "rate_limited",
      message: /ThrottlingException.*Too many requests/,
    },
    {
      name: "ServiceQuotaExceededException is quota_exceeded",
      frame: exceptionFrame("ServiceQuotaExceededException", "Monthly limit reached"),
      kind: "quota_exceeded",
      message: /ServiceQuotaExceededException.*Monthly limit reached/,
    },
    {
      name: "ValidationException is invalid_request",
      frame: exceptionFrame("ValidationException", "Input is too long"),
      kind: "invalid_request",
      message: /ValidationException.*Input is too long/,
    },
    {
      name: "another exception is upstream",
      frame: exceptionFrame("InternalServerException", "Boom"),
      kind: "upstream",
      message: /InternalServerException.*Boom/,
    },
    {
      name: "an exception with a plain-text payload keeps the text",
      frame: encodeFrame({
        headers: {
          ":exception-type": { type: "string", value: "InternalServerException" },
          ":message-type": { type: "string", value: "exception" },
        },
        payload: new TextEncoder().encode("plain failure text"),
      }),
      kind: "upstream",
      message: /InternalServerException.*plain failure text/,
    },
    {
      name: "an error frame is upstream with its code and message",
      frame: errorFrame("InternalFailure", "Something broke"),
      kind: "upstream",
      message: /InternalFailure.*Something broke/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const [events, err] = await eventsThenError([
        textFrame("partial "),
        textFrame("answer"),
        c.frame,
      ]);
      assert.deepEqual(events, [
        { type: "text", text: "partial " },
        { type: "text", text: "answer" },
      ]);
      assert.equal(err.kind, c.kind);
      assert.match(err.message, c.message);
    });
  }
});

Deno.test("malformed payloads of known events are upstream_protocol errors", async (t) => {
  const cases: { name: string; frame: Uint8Array }[] = [
    { name: "text that is not JSON", frame: kiroFrame("assistantResponseEvent", "{content") },
    { name: "a JSON array", frame: kiroFrame("assistantResponseEvent", "[1]") },
    {
      name: "content that is a number",
      frame: kiroFrame("assistantResponseEvent", { content: 3 }),
    },
    { name: "a tool event without an id", frame: kiroFrame("toolUseEvent", { name: "x" }) },
    {
      name: "a first tool event without a name",
      frame: kiroFrame("toolUseEvent", { input: "{}", toolUseId: TOOL_ID }),
    },
    {
      name: "a tool input that is a number",
      frame: kiroFrame("toolUseEvent", { input: 5, name: "x", toolUseId: TOOL_ID }),
    },
    { name: "metering without usage", frame: kiroFrame("meteringEvent", { unit: "credit" }) },
    {
      name: "context usage as a string",
      frame: kiroFrame("contextUsageEvent", { contextUsagePercentage: "12" }),
    },
    {
      name: "reasoningText that is a string",
      frame: kiroFrame("reasoningContentEvent", { reasoningText: "x" }),
    },
    {
      name: "redacted content that is a number",
      frame: kiroFrame("reasoningContentEvent", { redactedContent: 7 }),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const [events, err] = await eventsThenError([textFrame("ok"), c.frame]);
      assert.deepEqual(events, [{ type: "text", text: "ok" }]);
      assert.equal(err.kind, "upstream_protocol");
    });
  }
});

Deno.test("unknown events are skipped with a debug log", async () => {
  const records: LogRecord[] = [];
  const logger = new Logger({ level: "debug", write: () => {} });
  logger.listen((record) => records.push(record));
  const events = await decodeEvents([kiroFrame("brandNewEvent", { a: 1 }), textFrame("x")], {
    logger,
  });
  assert.deepEqual(events, [{ type: "text", text: "x" }]);
  assert.equal(records.length, 1);
  assert.equal(records[0]?.level, "debug");
  assert.equal(records[0]?.fields.eventType, "brandNewEvent");
});

Deno.test("text payloads read without JSON.parse give exactly what JSON.parse gives", async () => {
  const long = "x".repeat(5000);
  const payloads = [
    '{"content":"plain ASCII, spaces and punctuation: ~!@#$%^&*()[]{}"}',
    '{"content":""}',
    '{"content":"with \\"quotes\\", a back\\\\slash and a line\\nbreak"}',
    '{"content":"caf\u00e9 \ud83d\ude00 \u2028"}',
    '{"content":"escaped \\u00e9 and \\ud83d\\ude00"}',
    `{"content":"${long}"}`,
    '{"content":"a DEL \u007f stays"}',
    '{"content":"more fields","modelId":"m"}',
    '{"modelId":"m","content":"fields first"}',
    '{"content":"spaced"} ',
    '{"content":"followed","followupPrompt":{"content":"x"}}',
  ];
  const events = await decodeEvents(
    payloads.map((payload) => kiroFrame("assistantResponseEvent", payload)),
  );
  const expected = payloads
    .map((payload) => JSON.parse(payload) as { content: string; followupPrompt?: unknown })
    .filter((body) => body.content !== "" && !body.followupPrompt)
    .map((body) => ({ type: "text", text: body.content }));
  assert.deepEqual(events, expected);
});

Deno.test("a text payload with a raw control character is refused, as JSON.parse refuses it", async () => {
  const [events, err] = await eventsThenError([
    textFrame("before"),
    kiroFrame("assistantResponseEvent", '{"content":"tab\there"}'),
  ]);
  assert.deepEqual(events, [{ type: "text", text: "before" }]);
  assert.equal(err.kind, "upstream_protocol");
});
