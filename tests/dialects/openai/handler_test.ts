import assert from "node:assert/strict";
import OpenAI from "openai";
import type { ChatBackend } from "../../../src/core/backend.ts";
import type { ChatEvent, StopReason } from "../../../src/core/chat.ts";
import { defaultConfig } from "../../../src/config.ts";
import { handleChatCompletions } from "../../../src/dialects/openai/handler.ts";
import { type ErrorKind, GatewayError } from "../../../src/errors.ts";
import { silentLogger } from "../../../src/log.ts";
import { MemoryState } from "../../../src/state/state.ts";
import { createFakeBackend, type FakeBackend } from "../../fake_backend.ts";
import { StreamedText, within } from "../../helpers.ts";
import { startTestGateway, TEST_API_KEY, type TestGateway } from "../../test_gateway.ts";

const MODEL = "claude-sonnet-4-5";
const PNG_BASE64 = "iVBORw0KGgo=";
const USAGE = { inputTokens: 42, outputTokens: 7 };

function clientFor(gateway: TestGateway, apiKey = TEST_API_KEY): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
}

function end(stopReason: StopReason = "end_turn"): ChatEvent {
  return { type: "end", stopReason, usage: USAGE };
}

/** Splits an SSE body into its data payloads. */
function dataLines(body: string): string[] {
  return body.split("\n\n").filter((block) => block !== "").map((block) => {
    assert.ok(block.startsWith("data: "), `unexpected SSE block ${block}`);
    return block.slice("data: ".length);
  });
}

async function expectApiError(
  promise: Promise<unknown>,
  expected: {
    status: number;
    type?: string;
    code?: string | null;
    param?: string;
    message?: RegExp;
  },
): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
    assert.equal(err.status, expected.status);
    if (expected.type !== undefined) assert.equal(err.type, expected.type);
    if (expected.code !== undefined) assert.equal(err.code, expected.code);
    if (expected.param !== undefined) assert.equal(err.param, expected.param);
    if (expected.message) assert.match(err.message, expected.message);
    return err;
  }
  assert.fail("expected the request to fail");
}

function setup(backend: FakeBackend = createFakeBackend()) {
  const gateway = startTestGateway({ backend, config: { imageUrlFetch: "all" } });
  return { backend, gateway, client: clientFor(gateway) };
}

Deno.test("POST /v1/chat/completions answers without streaming", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  await t.step("a text reply is one chat.completion", async () => {
    backend.script({ events: [{ type: "text", text: "Hello!" }, end()] });
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
    });
    assert.match(completion.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.model, MODEL);
    assert.equal(completion.choices.length, 1);
    assert.deepEqual(completion.choices[0]?.message, { role: "assistant", content: "Hello!" });
    assert.equal(completion.choices[0]?.finish_reason, "stop");
    assert.deepEqual(completion.usage, {
      prompt_tokens: 42,
      completion_tokens: 7,
      total_tokens: 49,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    assert.equal(backend.requests.at(-1)?.model, MODEL);
    assert.equal(backend.requests.at(-1)?.stream, false);
  });

  await t.step("reasoning, tool calls and credits appear on the message", async () => {
    backend.script({
      events: [
        { type: "reasoning", text: "Think." },
        { type: "tool_call", id: "call_1", name: "bash", arguments: '{"cmd":"ls"}' },
        { type: "end", stopReason: "tool_use", usage: { ...USAGE, credits: 0.25 } },
      ],
    });
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "ls" }],
    });
    const body = await res.json();
    assert.deepEqual(body.choices[0].message, {
      role: "assistant",
      content: "",
      reasoning_content: "Think.",
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: "bash", arguments: '{"cmd":"ls"}' },
      }],
    });
    assert.equal(body.choices[0].finish_reason, "tool_calls");
    assert.equal(body.usage.credits_used, 0.25);
  });

  const reasons: [StopReason, string][] = [
    ["end_turn", "stop"],
    ["tool_use", "tool_calls"],
    ["max_tokens", "length"],
  ];
  for (const [stopReason, finishReason] of reasons) {
    await t.step(`stop reason ${stopReason} is finish_reason ${finishReason}`, async () => {
      backend.script({ events: [{ type: "text", text: "x" }, end(stopReason)] });
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "Hi" }],
      });
      assert.equal(completion.choices[0]?.finish_reason, finishReason);
    });
  }

  await t.step("an error event after the start becomes an error response", async () => {
    backend.script({
      events: [
        { type: "text", text: "partial" },
        { type: "error", error: new GatewayError("upstream_protocol", "Kiro stream was corrupt") },
      ],
    });
    await expectApiError(
      client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
      { status: 502, type: "api_error", code: "upstream_protocol_error" },
    );
  });
});

Deno.test("POST /v1/chat/completions streams chunks the SDK assembles", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  await t.step("text streams and sets the SSE headers", async () => {
    backend.script({
      events: [{ type: "text", text: "Hel" }, { type: "text", text: "lo" }, end()],
    });
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const data = dataLines(await res.text());
    assert.equal(data.at(-1), "[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.deepEqual(chunks.map((c) => c.choices[0].delta), [
      { role: "assistant", content: "" },
      { content: "Hel" },
      { content: "lo" },
      {},
    ]);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.equal(backend.requests.at(-1)?.stream, true);
  });

  await t.step("the stream helper builds the final completion", async () => {
    backend.script({ events: [{ type: "text", text: "Hello!" }, end()] });
    const stream = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
    });
    const completion = await stream.finalChatCompletion();
    assert.equal(completion.choices[0]?.message.content, "Hello!");
    assert.equal(completion.choices[0]?.finish_reason, "stop");
    assert.equal(completion.model, MODEL);
  });

  await t.step("parallel tool calls arrive with parsable arguments", async () => {
    backend.script({
      events: [
        { type: "text", text: "Running both." },
        { type: "tool_call", id: "call_a", name: "bash", arguments: '{"cmd":"ls"}' },
        { type: "tool_call", id: "call_b", name: "read", arguments: '{"path":"a.txt"}' },
        end("tool_use"),
      ],
    });
    const stream = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: "user", content: "Go" }],
      tools: [
        { type: "function", function: { name: "bash", parameters: { type: "object" } } },
        { type: "function", function: { name: "read", parameters: { type: "object" } } },
      ],
    });
    const done: string[] = [];
    stream.on("tool_calls.function.arguments.done", (e) => done.push(e.name));
    const completion = await stream.finalChatCompletion();
    const message = completion.choices[0]?.message;
    assert.equal(message?.content, "Running both.");
    const calls = (message?.tool_calls ?? []).map((call) => {
      assert.equal(call.type, "function");
      return call.type === "function"
        ? [call.id, call.function.name, JSON.parse(call.function.arguments)]
        : [];
    });
    assert.deepEqual(calls, [
      ["call_a", "bash", { cmd: "ls" }],
      ["call_b", "read", { path: "a.txt" }],
    ]);
    assert.deepEqual(done, ["bash", "read"]);
    assert.equal(completion.choices[0]?.finish_reason, "tool_calls");
  });

  await t.step("reasoning streams as reasoning_content deltas", async () => {
    backend.script({
      events: [{ type: "reasoning", text: "Hmm." }, { type: "text", text: "Yes." }, end()],
    });
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "?" }],
      stream: true,
    });
    const deltas = dataLines(await res.text()).slice(0, -1).map((d) =>
      JSON.parse(d).choices[0].delta
    );
    assert.deepEqual(deltas.slice(1, 3), [{ reasoning_content: "Hmm." }, { content: "Yes." }]);
  });

  await t.step("include_usage adds a usage chunk with no choices", async () => {
    backend.script({ events: [{ type: "text", text: "Hi" }, end()] });
    const stream = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: "user", content: "Hi" }],
      stream_options: { include_usage: true },
    });
    const usageChunks: unknown[] = [];
    stream.on("chunk", (chunk) => {
      if (chunk.choices.length === 0) usageChunks.push(chunk.usage);
    });
    const completion = await stream.finalChatCompletion();
    assert.deepEqual(usageChunks, [{
      prompt_tokens: 42,
      completion_tokens: 7,
      total_tokens: 49,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    }]);
    assert.equal(completion.usage?.total_tokens, 49);
  });

  await t.step("an error event mid-stream is one error chunk then [DONE]", async () => {
    const error = new GatewayError("upstream_timeout", "Kiro stopped answering");
    backend.script({ events: [{ type: "text", text: "part" }, { type: "error", error }] });
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const data = dataLines(await res.text());
    assert.equal(data.length, 4);
    assert.deepEqual(JSON.parse(data[2] ?? ""), {
      error: {
        message: "Kiro stopped answering",
        type: "timeout_error",
        param: null,
        code: "upstream_timeout",
      },
    });
    assert.equal(data[3], "[DONE]");
  });

  await t.step("the SDK surfaces a mid-stream error as an APIError", async () => {
    const error = new GatewayError("upstream_timeout", "Kiro stopped answering");
    backend.script({ events: [{ type: "text", text: "part" }, { type: "error", error }] });
    const stream = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
    });
    await assert.rejects(stream.finalChatCompletion(), /Kiro stopped answering/);
  });
});

Deno.test("a tool round trip through the SDK's runTools reaches the backend converted", async () => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;
  backend.script(
    {
      events: [
        { type: "tool_call", id: "call_w", name: "weather", arguments: '{"city":"Oslo"}' },
        end("tool_use"),
      ],
    },
    { events: [{ type: "text", text: "It is cold in Oslo." }, end()] },
  );
  const seen: unknown[] = [];
  const runner = client.chat.completions.runTools({
    model: MODEL,
    stream: true,
    messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Weather?" }],
    tools: [{
      type: "function",
      function: {
        name: "weather",
        description: "Current weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
        parse: (input: string) => JSON.parse(input) as { city: string },
        function: (args: { city: string }) => {
          seen.push(args);
          return "-5 C";
        },
      },
    }],
  });
  assert.equal(await runner.finalContent(), "It is cold in Oslo.");
  assert.deepEqual(seen, [{ city: "Oslo" }]);
  assert.equal(backend.requests.length, 2);
  const second = backend.requests[1];
  assert.equal(second?.system, "Be terse.");
  assert.deepEqual(second?.messages.map((m) => m.role), ["user", "assistant", "user"]);
  assert.deepEqual(second?.messages[1]?.toolCalls, [
    { id: "call_w", name: "weather", input: { city: "Oslo" } },
  ]);
  assert.deepEqual(second?.messages[2]?.toolResults, [
    { toolUseId: "call_w", content: "-5 C", isError: false },
  ]);
  assert.deepEqual(second?.tools.map((tool) => tool.name), ["weather"]);
});

Deno.test("POST /v1/chat/completions converts prompts and images", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;
  await using images = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/cat.png") {
      return new Response(new Uint8Array([137, 80, 78, 71]), {
        headers: { "content-type": "image/png" },
      });
    }
    return new Response("gone", { status: 404 });
  });
  const imageBase = `http://127.0.0.1:${images.addr.port}`;

  await t.step("system and developer messages form the system prompt", async () => {
    await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: "system", content: "Rule one." },
        { role: "developer", content: "Rule two." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello" },
        { role: "user", content: "Again" },
      ],
    });
    const chat = backend.requests.at(-1);
    assert.equal(chat?.system, "Rule one.\nRule two.");
    assert.deepEqual(chat?.messages.map((m) => [m.role, m.text]), [
      ["user", "Hi"],
      ["assistant", "Hello"],
      ["user", "Again"],
    ]);
  });

  await t.step("data URL and http URL images reach the backend as bytes", async () => {
    await client.chat.completions.create({
      model: MODEL,
      messages: [{
        role: "user",
        content: [
          { type: "text", text: "Compare" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
          { type: "image_url", image_url: { url: `${imageBase}/cat.png` } },
        ],
      }],
    });
    assert.deepEqual(backend.requests.at(-1)?.messages[0]?.images, [
      { mediaType: "image/png", data: PNG_BASE64 },
      { mediaType: "image/png", data: btoa(String.fromCharCode(137, 80, 78, 71)) },
    ]);
  });

  await t.step("an image URL that fails is a 400 naming the field", async () => {
    const sent = backend.requests.length;
    await expectApiError(
      client.chat.completions.create({
        model: MODEL,
        messages: [{
          role: "user",
          content: [
            { type: "text", text: "Look" },
            { type: "image_url", image_url: { url: `${imageBase}/missing.png` } },
          ],
        }],
      }),
      {
        status: 400,
        type: "invalid_request_error",
        param: "messages.0.content.1.image_url.url",
        message: /Cannot fetch image ".*\/missing\.png": the server answered 404/,
      },
    );
    assert.equal(backend.requests.length, sent);
  });
});

Deno.test("POST /v1/chat/completions rejects bad requests before the backend", async (t) => {
  const { backend, gateway } = setup();
  await using _ = gateway;

  await t.step("a body that is not JSON is a 400", async () => {
    const res = await gateway.post("/v1/chat/completions", "{not json");
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /^Invalid request: the body is not valid JSON/);
  });

  const invalid: { name: string; body: Record<string, unknown>; param: string; message: RegExp }[] =
    [
      {
        name: "an unknown role names its path",
        body: { model: MODEL, messages: [{ role: "wizard", content: "x" }] },
        param: "messages.0.role",
        message: /^Invalid request: messages\.0\.role: /,
      },
      {
        name: "an empty messages list",
        body: { model: MODEL, messages: [] },
        param: "messages",
        message: /^Invalid request: messages must contain at least one message$/,
      },
      {
        name: "a missing model",
        body: { messages: [{ role: "user", content: "x" }] },
        param: "model",
        message: /^Invalid request: model: /,
      },
      {
        name: "n that is not a positive whole number",
        body: { model: MODEL, messages: [{ role: "user", content: "x" }], n: 0 },
        param: "n",
        message: /^Invalid request: n: /,
      },
      {
        name: "an unknown reasoning_effort",
        body: { model: MODEL, messages: [{ role: "user", content: "x" }], reasoning_effort: "max" },
        param: "reasoning_effort",
        message: /reasoning_effort/,
      },
      {
        name: "a text part without text",
        body: { model: MODEL, messages: [{ role: "user", content: [{ type: "text" }] }] },
        param: "messages.0.content.0.text",
        message: /messages\.0\.content\.0\.text: a text part needs a string text/,
      },
      {
        name: "a user message without content",
        body: { model: MODEL, messages: [{ role: "user" }] },
        param: "messages.0.content",
        message: /^Invalid request: messages\.0\.content: a user message needs content/,
      },
      {
        name: "a user message with null content",
        body: { model: MODEL, messages: [{ role: "user", content: null }] },
        param: "messages.0.content",
        message: /^Invalid request: messages\.0\.content: a user message needs content/,
      },
      {
        name: "a first tool message without tool_call_id",
        body: {
          model: MODEL,
          messages: [
            { role: "user", content: "x" },
            {
              role: "assistant",
              content: null,
              tool_calls: [{
                id: "c1",
                type: "function",
                function: { name: "f", arguments: "{}" },
              }],
            },
            { role: "tool", content: "result" },
          ],
          tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
        },
        param: "messages.2.tool_call_id",
        message: /messages\.2\.tool_call_id: a tool message needs the tool_call_id/,
      },
      {
        name: "a temperature that is not a number",
        body: { model: MODEL, messages: [{ role: "user", content: "x" }], temperature: "hot" },
        param: "temperature",
        message: /^Invalid request: temperature: /,
      },
      {
        name: "a tool_choice that is neither a string nor an object",
        body: { model: MODEL, messages: [{ role: "user", content: "x" }], tool_choice: 5 },
        param: "tool_choice",
        message: /^Invalid request: tool_choice: /,
      },
      {
        name: "a stop that is neither a string nor a list of strings",
        body: { model: MODEL, messages: [{ role: "user", content: "x" }], stop: 5 },
        param: "stop",
        message: /^Invalid request: stop: /,
      },
      {
        name: "a content part that carries nothing Kiro can take",
        body: {
          model: MODEL,
          messages: [{
            role: "user",
            content: [{ type: "text", text: "hear this" }, {
              type: "input_audio",
              input_audio: { data: "AAAA", format: "wav" },
            }],
          }],
        },
        param: "messages.0.content.1.type",
        message: /content part of type "input_audio" carries nothing Kiro can take/,
      },
      {
        name: "image data that is not base64",
        body: {
          model: MODEL,
          messages: [{
            role: "user",
            content: [{ type: "image_url", image_url: { url: "data:image/png;base64,@@not" } }],
          }],
        },
        param: "messages.0.content.0.image_url.url",
        message: /messages\.0\.content\.0\.image_url\.url: the data is not valid base64/,
      },
      {
        name: "an image of a type Kiro refuses",
        body: {
          model: MODEL,
          messages: [{
            role: "user",
            content: [{ type: "image_url", image_url: { url: "data:image/bmp;base64,Qk0=" } }],
          }],
        },
        param: "messages.0.content.0.image_url.url",
        message: /image type "image\/bmp" is not one Kiro accepts/,
      },
      {
        name: "an image that is text/html",
        body: {
          model: MODEL,
          messages: [{
            role: "user",
            content: [{ type: "image_url", image_url: { url: "data:text/html;base64,PGI+" } }],
          }],
        },
        param: "messages.0.content.0.image_url.url",
        message: /media type "text\/html" is not an image/,
      },
    ];
  for (const c of invalid) {
    await t.step(`${c.name} is a 400 with param ${c.param}`, async () => {
      const res = await gateway.post("/v1/chat/completions", c.body);
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.param, c.param);
      assert.match(body.error.message, c.message);
    });
  }

  await t.step("an unknown part type that carries text is taken as text", async () => {
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{
        role: "user",
        content: [{ type: "input_text", text: "one " }, { type: "fancy_text", text: "two" }],
      }],
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(backend.requests.at(-1)?.messages[0]?.text, "one two");
  });

  await t.step("unknown fields are accepted and ignored", async () => {
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "x", mood: "happy" }],
      temperature: 0.2,
      logit_bias: { "1": 2 },
      something_new: { nested: true },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  await t.step("a missing API key is a 401", async () => {
    await expectApiError(
      clientFor(gateway, "wrong-key").chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
      }),
      { status: 401, type: "authentication_error", code: "invalid_api_key" },
    );
  });

  await t.step("a body above the size cap is a 413", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 51) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const req = new Request("http://gateway.test/v1/chat/completions", {
      method: "POST",
      body,
    });
    const deps = {
      config: defaultConfig(),
      logger: silentLogger(),
      backend,
      now: () => 0,
      randomHex: () => "0",
      state: new MemoryState(),
    };
    await assert.rejects(handleChatCompletions(req, deps), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "payload_too_large");
      return true;
    });
  });
  assert.equal(backend.requests.length, 2, "only the two valid requests reached the backend");
});

Deno.test("POST /v1/chat/completions maps backend rejections to OpenAI errors", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;
  const cases: { kind: ErrorKind; status: number; type: string; code: string | null }[] = [
    { kind: "invalid_request", status: 400, type: "invalid_request_error", code: null },
    {
      kind: "context_length",
      status: 400,
      type: "invalid_request_error",
      code: "context_length_exceeded",
    },
    { kind: "kiro_auth", status: 401, type: "authentication_error", code: "kiro_login_required" },
    { kind: "permission", status: 403, type: "permission_error", code: null },
    { kind: "not_found", status: 404, type: "invalid_request_error", code: "not_found" },
    { kind: "quota_exceeded", status: 429, type: "insufficient_quota", code: "insufficient_quota" },
    {
      kind: "rate_limited",
      status: 429,
      type: "rate_limit_exceeded",
      code: "rate_limit_exceeded",
    },
    { kind: "upstream", status: 502, type: "api_error", code: "upstream_error" },
    { kind: "upstream_unreachable", status: 502, type: "api_error", code: "upstream_unreachable" },
    { kind: "upstream_timeout", status: 504, type: "timeout_error", code: "upstream_timeout" },
    { kind: "overloaded", status: 503, type: "api_error", code: "overloaded" },
  ];
  for (const c of cases) {
    await t.step(`${c.kind} is ${c.status} ${c.type}`, async () => {
      backend.script({ error: new GatewayError(c.kind, `Kiro said no (${c.kind})`) });
      await expectApiError(
        client.chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: "x" }],
        }),
        { status: c.status, type: c.type, code: c.code, message: new RegExp(c.kind) },
      );
    });
  }

  await t.step("a rate limit carries retry-after", async () => {
    backend.script({
      error: new GatewayError("rate_limited", "Slow down", { retryAfterSeconds: 7 }),
    });
    const res = await gateway.post("/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "7");
    await res.body?.cancel();
  });
});

Deno.test("a client that leaves mid-stream cancels the upstream", async () => {
  const { backend, gateway } = setup();
  await using _ = gateway;
  backend.script({ events: [{ type: "text", text: "first" }, end()], holdAfter: 1 });
  const controller = new AbortController();
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      stream: true,
    }),
    signal: controller.signal,
  });
  const body = new StreamedText(res.body!);
  const seen = await body.until((text) => text.includes('"first"'), "the held event");
  assert.ok(seen.indexOf('"role":"assistant"') < seen.indexOf('"first"'));
  controller.abort();
  await body.cancel();
  await within(backend.cancelled, 5000, "upstream cancellation");
});

Deno.test("twenty concurrent streams do not mix their replies", async () => {
  const fake = createFakeBackend();
  // Script each send from its own request, so replies are tied to requests, not arrival order.
  const backend: ChatBackend = {
    ...fake,
    send(chat, signal) {
      const text = chat.messages[0]?.text ?? "";
      fake.script({
        events: [
          { type: "text", text: `echo ` },
          { type: "text", text },
          end(),
        ],
      });
      return fake.send(chat, signal);
    },
  };
  await using gateway = startTestGateway({ backend });
  const client = clientFor(gateway);
  const results = await within(
    Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const stream = client.chat.completions.stream({
        model: MODEL,
        messages: [{ role: "user", content: `request ${i}` }],
      });
      const completion = await stream.finalChatCompletion();
      return { i, id: completion.id, text: completion.choices[0]?.message.content };
    })),
    10_000,
    "twenty streams",
  );
  for (const r of results) assert.equal(r.text, `echo request ${r.i}`);
  assert.equal(new Set(results.map((r) => r.id)).size, 20);
});

Deno.test("GET /v1/models lists the backend's models", async () => {
  const { gateway, client } = setup();
  await using _ = gateway;
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["auto-kiro", "claude-sonnet-4.5"]);

  const res = await gateway.get("/v1/models");
  const body = await res.json();
  assert.equal(body.object, "list");
  const [auto, sonnet] = body.data;
  assert.equal(typeof auto.created, "number");
  assert.deepEqual({ ...auto, created: 0 }, {
    id: "auto-kiro",
    object: "model",
    created: 0,
    owned_by: "anthropic",
    display_name: "Auto",
    context_window: 200_000,
  });
  assert.equal(sonnet.max_output_tokens, 64_000);
});

Deno.test("n above one is accepted and answered with one choice", async () => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const res = await gateway.post("/v1/chat/completions", {
    model: MODEL,
    n: 3,
    messages: [{ role: "user", content: "Hi" }],
  });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.choices.length, 1);
  assert.ok(gateway.logs.some((line) => line.includes("Kiro returns one choice")));
});
