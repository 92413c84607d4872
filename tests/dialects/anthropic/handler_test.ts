import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import Anthropic from "@anthropic-ai/sdk";
import type { ChatEvent } from "../../../src/core/chat.ts";
import { estimateInputTokens } from "../../../src/core/estimate.ts";
import { MAX_BODY_BYTES } from "../../../src/core/http_body.ts";
import { TokenCounter } from "../../../src/core/tokens.ts";
import { respondToMessages } from "../../../src/dialects/anthropic/handler.ts";
import { type ErrorKind, GatewayError } from "../../../src/errors.ts";
import { createFakeBackend, FAKE_MODELS } from "../../fake_backend.ts";
import { StreamedText, within } from "../../helpers.ts";
import { fixedHandlerDeps, startTestGateway, TEST_API_KEY } from "../../test_gateway.ts";

const MODEL = "claude-sonnet-4.5";

/** Ids and signatures are the same in every request, so replies compare whole. */
const FIXED_IDS = { randomHex: (bytes: number) => "ab".repeat(bytes) };

const THINKING_TEXT_TOOL: ChatEvent[] = [
  { type: "reasoning", text: "Need to list " },
  { type: "reasoning", text: "files." },
  { type: "text", text: "Listing " },
  { type: "text", text: "now." },
  { type: "tool_call", id: "tooluse_1", name: "bash", arguments: '{"cmd":"ls","all":true}' },
  { type: "end", stopReason: "tool_use", usage: { inputTokens: 77, outputTokens: 12 } },
];

function sdk(url: string): Anthropic {
  return new Anthropic({ baseURL: url, apiKey: TEST_API_KEY, maxRetries: 0 });
}

const HELLO = {
  model: MODEL,
  max_tokens: 1024,
  messages: [{ role: "user" as const, content: "Hi" }],
};

Deno.test("POST /v1/messages answers the official Anthropic SDK", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend, deps: FIXED_IDS });
  const client = sdk(gateway.url);

  await t.step("a non-streaming reply is an Anthropic message", async () => {
    const message = await client.messages.create(HELLO);
    assert.deepEqual(message, {
      id: `msg_${"ab".repeat(12)}`,
      type: "message",
      role: "assistant",
      model: MODEL,
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      stop_details: null,
      usage: {
        input_tokens: 42,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 2,
      },
    });
    assert.equal(backend.requests.at(-1)?.stream, false);
    assert.equal(backend.requests.at(-1)?.maxOutputTokens, 1024);
  });

  await t.step("a streamed reply's final message equals the non-streaming one", async () => {
    backend.script({ events: THINKING_TEXT_TOOL }, { events: THINKING_TEXT_TOOL });
    const plain = await client.messages.create(HELLO);
    const stream = client.messages.stream(HELLO);
    const final = JSON.parse(JSON.stringify(await stream.finalMessage()));
    delete final.parsed_output; // added by the SDK's parse helper, not sent by the gateway
    assert.deepEqual(final, plain);
    assert.deepEqual(plain.content, [
      { type: "thinking", thinking: "Need to list files.", signature: `sig_${"ab".repeat(16)}` },
      { type: "text", text: "Listing now." },
      { type: "tool_use", id: "tooluse_1", name: "bash", input: { cmd: "ls", all: true } },
    ]);
    assert.equal(plain.stop_reason, "tool_use");
    assert.equal(backend.requests.at(-1)?.stream, true);
  });

  await t.step("streamed events come in order with consecutive indexes", async () => {
    backend.script({ events: THINKING_TEXT_TOOL });
    const seen: string[] = [];
    for await (const event of client.messages.stream(HELLO)) {
      seen.push("index" in event ? `${event.type}:${event.index}` : event.type);
    }
    assert.deepEqual(seen, [
      "message_start",
      "content_block_start:0",
      "content_block_delta:0",
      "content_block_delta:0",
      "content_block_delta:0",
      "content_block_stop:0",
      "content_block_start:1",
      "content_block_delta:1",
      "content_block_delta:1",
      "content_block_stop:1",
      "content_block_start:2",
      "content_block_delta:2",
      "content_block_stop:2",
      "message_delta",
      "message_stop",
    ]);
  });

  await t.step("the stream has SSE headers", async () => {
    backend.script({ events: THINKING_TEXT_TOOL });
    const res = await gateway.post("/v1/messages", { ...HELLO, stream: true });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const text = await res.text();
    assert.ok(text.startsWith("event: message_start\n"));
    assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  });

  await t.step("tools are sent to the backend and calls come back with parsed input", async () => {
    backend.script({
      events: [
        { type: "tool_call", id: "toolu_9", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { type: "end", stopReason: "tool_use", usage: { inputTokens: 10, outputTokens: 3 } },
      ],
    });
    const message = await client.messages.create({
      ...HELLO,
      tools: [{
        name: "get_weather",
        description: "Weather by city",
        input_schema: { type: "object", properties: { city: { type: "string" } } },
      }],
      tool_choice: { type: "auto" },
    });
    assert.deepEqual(message.content, [
      { type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Oslo" } },
    ]);
    assert.deepEqual(backend.requests.at(-1)?.tools, [{
      name: "get_weather",
      description: "Weather by city",
      inputSchema: { type: "object", properties: { city: { type: "string" } } },
    }]);
  });

  await t.step("a tool result round trip reaches the backend as calls and results", async () => {
    await client.messages.create({
      ...HELLO,
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Call the tool.", signature: "sig_x" },
            { type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Oslo" } },
          ],
        },
        {
          role: "user",
          content: [{
            type: "tool_result",
            tool_use_id: "toolu_9",
            content: [{ type: "text", text: "Sunny, 21 C" }],
          }, { type: "tool_result", tool_use_id: "toolu_10", content: "boom", is_error: true }],
        },
      ],
    });
    assert.deepEqual(backend.requests.at(-1)?.messages, [
      { role: "user", text: "Weather in Oslo?", images: [], toolCalls: [], toolResults: [] },
      {
        role: "assistant",
        text: "",
        images: [],
        toolCalls: [{ id: "toolu_9", name: "get_weather", input: { city: "Oslo" } }],
        toolResults: [],
      },
      {
        role: "user",
        text: "",
        images: [],
        toolCalls: [],
        toolResults: [
          { toolUseId: "toolu_9", content: "Sunny, 21 C", isError: false },
          { toolUseId: "toolu_10", content: "boom", isError: true },
        ],
      },
    ]);
  });

  const thinkingCases: { name: string; params: Record<string, unknown>; expected: unknown }[] = [
    {
      name: "an enabled budget reaches the backend",
      params: { thinking: { type: "enabled", budget_tokens: 2048 } },
      expected: { enabled: true, budgetTokens: 2048, effort: "medium" },
    },
    {
      name: "disabled thinking reaches the backend",
      params: { thinking: { type: "disabled" } },
      expected: { enabled: false, budgetTokens: 0 },
    },
    {
      name: "adaptive thinking with high effort doubles the default budget",
      params: { thinking: { type: "adaptive" }, output_config: { effort: "high" } },
      expected: { enabled: true, budgetTokens: 8000, effort: "high" },
    },
  ];
  for (const c of thinkingCases) {
    await t.step(c.name, async () => {
      const res = await gateway.post("/v1/messages", { ...HELLO, ...c.params });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      assert.deepEqual(backend.requests.at(-1)?.thinking, c.expected);
    });
  }
});

Deno.test("POST /v1/messages reads URL images", async (t) => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  await using images = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/cat.png") return new Response(png, { headers: { "content-type": "image/png" } });
    return new Response("missing", { status: 404 });
  });
  const base = `http://127.0.0.1:${images.addr.port}`;
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend, config: { imageUrlFetch: "all" } });
  const client = sdk(gateway.url);
  const withImage = (url: string) => ({
    ...HELLO,
    messages: [{
      role: "user" as const,
      content: [
        { type: "image" as const, source: { type: "url" as const, url } },
        {
          type: "image" as const,
          source: { type: "base64" as const, media_type: "image/gif" as const, data: "R0lG" },
        },
        { type: "text" as const, text: "What is this?" },
      ],
    }],
  });

  await t.step("URL and base64 images reach the backend as bytes", async () => {
    await client.messages.create(withImage(`${base}/cat.png`));
    assert.deepEqual(backend.requests.at(-1)?.messages[0]?.images, [
      { mediaType: "image/png", data: Buffer.from(png).toString("base64") },
      { mediaType: "image/gif", data: "R0lG" },
    ]);
  });

  await t.step("an image URL that fails is a 400 naming the URL", async () => {
    const sent = backend.requests.length;
    const err = await client.messages.create(withImage(`${base}/missing.png`)).catch((e) => e);
    assert.ok(err instanceof Anthropic.BadRequestError);
    assert.equal(err.type, "invalid_request_error");
    assert.equal(
      err.apiMessage,
      `Cannot fetch image "${base}/missing.png": the server answered 404`,
    );
    assert.equal(backend.requests.length, sent, "the backend was not called");
  });
});

Deno.test("count_tokens agrees with message_start", async (t) => {
  const backend = createFakeBackend();
  const counter = new TokenCounter();
  backend.countInputTokens = (chat) => estimateInputTokens(chat, counter);
  await using gateway = startTestGateway({ backend });
  const client = sdk(gateway.url);
  const request = {
    model: MODEL,
    system: [{ type: "text" as const, text: "You are terse." }],
    tools: [{
      name: "bash",
      description: "Runs a command",
      input_schema: { type: "object" as const },
    }],
    messages: [
      { role: "user" as const, content: "List the files in this folder, please." },
      {
        role: "assistant" as const,
        content: [{ type: "tool_use" as const, id: "t1", name: "bash", input: { cmd: "ls" } }],
      },
      {
        role: "user" as const,
        content: [{ type: "tool_result" as const, tool_use_id: "t1", content: "a.txt b.txt" }],
      },
    ],
  };

  await t.step("both report the same local estimate", async () => {
    const counted = await client.messages.countTokens(request);
    let started: number | undefined;
    for await (const event of client.messages.stream({ ...request, max_tokens: 1024 })) {
      if (event.type === "message_start") started = event.message.usage.input_tokens;
    }
    assert.ok(counted.input_tokens > 20, `a real estimate, got ${counted.input_tokens}`);
    assert.equal(started, counted.input_tokens);
    assert.deepEqual(Object.keys(counted), ["input_tokens"]);
  });

  await t.step("count_tokens does not call the backend", async () => {
    const sent = backend.requests.length;
    await client.messages.countTokens(request);
    assert.equal(backend.requests.length, sent);
  });

  await t.step("count_tokens still needs messages", async () => {
    const res = await gateway.post("/v1/messages/count_tokens", { model: MODEL, messages: [] });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "messages: at least one message is required",
      },
    });
  });
});

Deno.test("GET /v1/models answers in Anthropic's shape when anthropic-version is sent", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const headers = { "anthropic-version": "2023-06-01" };
  const entry = (i: number) => ({
    type: "model",
    id: FAKE_MODELS[i]?.id,
    display_name: FAKE_MODELS[i]?.displayName,
    created_at: "2025-01-01T00:00:00Z",
  });
  const cases: { name: string; query: string; body: unknown }[] = [
    {
      name: "all models",
      query: "",
      body: {
        data: [entry(0), entry(1)],
        has_more: false,
        first_id: "auto-kiro",
        last_id: "claude-sonnet-4.5",
      },
    },
    {
      name: "the first page of one",
      query: "?limit=1",
      body: { data: [entry(0)], has_more: true, first_id: "auto-kiro", last_id: "auto-kiro" },
    },
    {
      name: "the page after an id",
      query: "?limit=1&after_id=auto-kiro",
      body: {
        data: [entry(1)],
        has_more: false,
        first_id: "claude-sonnet-4.5",
        last_id: "claude-sonnet-4.5",
      },
    },
    {
      name: "the page before an id",
      query: "?before_id=claude-sonnet-4.5",
      body: { data: [entry(0)], has_more: false, first_id: "auto-kiro", last_id: "auto-kiro" },
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} are listed`, async () => {
      const res = await gateway.get(`/v1/models${c.query}`, headers);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), c.body);
    });
  }

  await t.step("the SDK lists every model across pages", async () => {
    const ids: string[] = [];
    for await (const model of sdk(gateway.url).models.list({ limit: 1 })) ids.push(model.id);
    assert.deepEqual(ids, FAKE_MODELS.map((m) => m.id));
  });

  await t.step("a bad limit is a 400", async () => {
    const res = await gateway.get("/v1/models?limit=0", headers);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.type, "invalid_request_error");
  });
});

Deno.test("Anthropic routes report errors in Anthropic's shape", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const client = sdk(gateway.url);

  const badRequests: { name: string; body: unknown; message: RegExp }[] = [
    { name: "bad JSON", body: "{nope", message: /^Invalid request: the body is not valid JSON: / },
    {
      name: "a missing max_tokens",
      body: { model: MODEL, messages: HELLO.messages },
      message: /^max_tokens: field required$/,
    },
    {
      name: "a tool role in messages",
      body: { ...HELLO, messages: [{ role: "tool", content: "x" }] },
      message: /^messages\.0\.role: invalid role "tool"/,
    },
    {
      name: "an empty message list",
      body: { ...HELLO, messages: [] },
      message: /^messages: at least one message is required$/,
    },
  ];
  for (const c of badRequests) {
    await t.step(`${c.name} is a 400 invalid_request_error`, async () => {
      const res = await gateway.post("/v1/messages", c.body);
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.type, "error");
      assert.equal(body.error.type, "invalid_request_error");
      assert.match(body.error.message, c.message);
    });
  }

  await t.step("a body over the size cap is a 413 request_too_large", async () => {
    const res = await gateway.post("/v1/messages", "x".repeat(MAX_BODY_BYTES + 1));
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.type, "request_too_large");
  });

  await t.step("a missing key is a 401 authentication_error", async () => {
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "wrong", "anthropic-version": "2023-06-01" },
      body: JSON.stringify(HELLO),
    });
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "authentication_error");
  });

  const rejections: { kind: ErrorKind; status: number; type: string }[] = [
    { kind: "rate_limited", status: 429, type: "rate_limit_error" },
    { kind: "overloaded", status: 529, type: "overloaded_error" },
    { kind: "context_length", status: 400, type: "invalid_request_error" },
    { kind: "kiro_auth", status: 401, type: "authentication_error" },
  ];
  for (const c of rejections) {
    for (const stream of [false, true]) {
      await t.step(
        `a backend ${c.kind} rejection is a ${c.status} ${c.type} (stream ${stream})`,
        async () => {
          backend.script({ error: new GatewayError(c.kind, `Upstream said ${c.kind}`) });
          const err = await (stream
            ? client.messages.stream(HELLO).finalMessage()
            : client.messages.create(HELLO)).catch((e) =>
              e
            );
          assert.ok(err instanceof Anthropic.APIError);
          assert.equal(err.status, c.status);
          assert.equal(err.type, c.type);
          assert.match(err.message, new RegExp(`Upstream said ${c.kind}`));
        },
      );
    }
  }

  const midStream: ChatEvent[] = [
    { type: "text", text: "Partial" },
    { type: "error", error: new GatewayError("upstream_protocol", "Kiro sent a corrupt frame") },
  ];

  await t.step("a mid-stream error is one error event and no message_stop", async () => {
    backend.script({ events: midStream });
    const res = await gateway.post("/v1/messages", { ...HELLO, stream: true });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(
      text.endsWith(
        'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Kiro sent a corrupt frame"}}\n\n',
      ),
      text,
    );
    assert.ok(!text.includes("message_stop"));
  });

  await t.step("the SDK's stream rejects on a mid-stream error", async () => {
    backend.script({ events: midStream });
    await assert.rejects(
      client.messages.stream(HELLO).finalMessage(),
      (err: unknown) => err instanceof Anthropic.APIError && /corrupt frame/.test(err.message),
    );
  });

  await t.step("a mid-stream error fails a non-streaming request with its status", async () => {
    backend.script({ events: midStream });
    const err = await client.messages.create(HELLO).catch((e) => e);
    assert.ok(err instanceof Anthropic.APIError);
    assert.equal(err.status, 502);
  });
});

Deno.test("wrong types, unusable blocks and refused images are 400s naming the field on both routes", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const withContent = (content: unknown[]) => ({
    ...HELLO,
    messages: [{ role: "user", content }],
  });
  const image = (source: Record<string, unknown>) => withContent([{ type: "image", source }]);
  const cases: { name: string; body: unknown; message: RegExp; messagesOnly?: boolean }[] = [
    {
      name: "thinking that is not an object",
      body: { ...HELLO, thinking: "yes" },
      message: /^thinking: expected an object such as/,
    },
    {
      name: "a budget_tokens that is not a number",
      body: { ...HELLO, thinking: { type: "enabled", budget_tokens: "lots" } },
      message: /^thinking\.budget_tokens: expected an integer$/,
    },
    {
      name: "a tool_choice that is not an object",
      body: { ...HELLO, tool_choice: "any" },
      message: /^tool_choice: expected an object such as \{"type": "auto"\}$/,
    },
    {
      name: "a temperature that is not a number",
      body: { ...HELLO, temperature: "hot" },
      message: /^temperature: expected a number$/,
      messagesOnly: true,
    },
    {
      name: "a block of an unknown type that carries nothing Kiro can take",
      body: withContent([{ type: "text", text: "listen" }, { type: "audio", data: "AAAA" }]),
      message: /^messages\.0\.content\.1\.type: a content block of type "audio" carries nothing/,
    },
    {
      name: "base64 image data that is not base64",
      body: image({ type: "base64", media_type: "image/png", data: "not base64!" }),
      message: /^messages\.0\.content\.0\.source\.data: the data is not valid base64$/,
    },
    {
      name: "an image type Kiro refuses",
      body: image({ type: "base64", media_type: "image/bmp", data: "Qk0=" }),
      message: /^messages\.0\.content\.0\.source\.media_type: image type "image\/bmp" is not/,
    },
    {
      name: "an image that is text/html",
      body: image({ type: "base64", media_type: "text/html", data: "PGI+" }),
      message: /^messages\.0\.content\.0\.source\.media_type: media type "text\/html" is not/,
    },
  ];
  for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
    for (const c of cases) {
      if (c.messagesOnly && path !== "/v1/messages") continue;
      await t.step(`${path}: ${c.name}`, async () => {
        const res = await gateway.post(path, c.body);
        const body = await res.json();
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(body.type, "error");
        assert.equal(body.error.type, "invalid_request_error");
        assert.match(body.error.message, c.message);
      });
    }
  }
  assert.equal(backend.requests.length, 0, "nothing reached the backend");

  await t.step("a block of an unknown type that carries text is taken as text", async () => {
    const res = await gateway.post("/v1/messages", {
      ...withContent([{ type: "text", text: "one" }, { type: "fancy_text", text: "two" }]),
      brand_new_field: { ignored: true },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(backend.requests.at(-1)?.messages[0]?.text, "one\ntwo");
  });
});

Deno.test("a held stream sends pings and a client disconnect cancels the upstream", async (t) => {
  await t.step("pings arrive while the backend is silent", async () => {
    const backend = createFakeBackend();
    backend.script({
      events: [
        { type: "text", text: "Hi" },
        { type: "end", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } },
      ],
      holdAfter: 1,
    });
    const deps = fixedHandlerDeps(backend);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => respondToMessages(req, deps, { pingIntervalMs: 1 }),
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/v1/messages`, {
      method: "POST",
      body: JSON.stringify({ ...HELLO, stream: true }),
    });
    assert.ok(res.body);
    const body = new StreamedText(res.body);
    const text = await body.until(
      (text) => text.split("event: ping\n").length - 1 >= 3,
      "three pings",
    );
    assert.ok(text.includes("text_delta"), "the first event came before the pings");
    backend.release();
    assert.ok(
      (await body.rest()).endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'),
    );
  });

  await t.step("a client that leaves mid-stream cancels the backend stream", async () => {
    const backend = createFakeBackend();
    backend.script({ events: THINKING_TEXT_TOOL, holdAfter: 2 });
    await using gateway = startTestGateway({ backend });
    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": TEST_API_KEY, "content-type": "application/json" },
      body: JSON.stringify({ ...HELLO, stream: true }),
      signal: abort.signal,
    });
    assert.ok(res.body);
    const body = new StreamedText(res.body);
    await body.until((text) => text.includes("thinking_delta"), "a thinking delta");
    abort.abort();
    await body.settle();
    await within(backend.cancelled, 5000, "the backend cancellation");
  });
});
