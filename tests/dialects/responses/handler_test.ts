import assert from "node:assert/strict";
import OpenAI from "openai";
import type { ChatEvent, StopReason } from "../../../src/core/chat.ts";
import { respondToResponses } from "../../../src/dialects/responses/handler.ts";
import { GatewayError } from "../../../src/errors.ts";
import { MemoryState } from "../../../src/state/state.ts";
import { createFakeBackend, type FakeBackend } from "../../fake_backend.ts";
import { StreamedText, within } from "../../helpers.ts";
import {
  fixedHandlerDeps,
  startTestGateway,
  TEST_API_KEY,
  type TestGateway,
} from "../../test_gateway.ts";

const MODEL = "claude-sonnet-4-5";
const USAGE = { inputTokens: 42, outputTokens: 7 };

function clientFor(gateway: TestGateway, apiKey = TEST_API_KEY): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
}

function end(stopReason: StopReason = "end_turn"): ChatEvent {
  return { type: "end", stopReason, usage: USAGE };
}

function setup(backend: FakeBackend = createFakeBackend()) {
  const gateway = startTestGateway({ backend });
  return { backend, gateway, client: clientFor(gateway) };
}

/** Parses an SSE body into its events, checking that each event name matches its type. */
function parseSse(body: string): Record<string, unknown>[] {
  return body.split("\n\n").filter((block) => block !== "").map((block) => {
    const [eventLine = "", dataLine = ""] = block.split("\n");
    assert.ok(eventLine.startsWith("event: ") && dataLine.startsWith("data: "), block);
    const data = JSON.parse(dataLine.slice("data: ".length)) as Record<string, unknown>;
    assert.equal(data.type, eventLine.slice("event: ".length));
    return data;
  });
}

const TOOLS = [
  {
    type: "function",
    name: "shell",
    description: "Runs a command",
    parameters: { type: "object", properties: { command: { type: "string" } } },
  },
  {
    type: "custom",
    name: "apply_patch",
    description: "Applies a patch",
    format: { type: "grammar", syntax: "lark", definition: "start: /.+/" },
  },
  {
    type: "namespace",
    name: "mcp__files__",
    description: "File tools",
    tools: [{
      type: "function",
      name: "read",
      description: "Reads a file",
      parameters: { type: "object", properties: { path: { type: "string" } } },
    }],
  },
];

Deno.test("POST /v1/responses answers without streaming", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  await t.step("a text reply is one response with output_text and full usage", async () => {
    backend.script({
      events: [{ type: "reasoning", text: "Think." }, { type: "text", text: "Hello!" }, end()],
    });
    const response = await client.responses.create({
      model: MODEL,
      instructions: "Be brief.",
      input: "Hi",
    });
    assert.match(response.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(response.object, "response");
    assert.equal(response.status, "completed");
    assert.equal(response.model, MODEL);
    assert.equal(response.output_text, "Hello!");
    assert.deepEqual(response.output.map((item) => item.type), ["reasoning", "message"]);
    const reasoning = response.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.deepEqual(reasoning.summary, [{ type: "summary_text", text: "Think." }]);
    assert.deepEqual(response.usage, {
      input_tokens: 42,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 49,
    });
    assert.equal(response.instructions, "Be brief.");
    const chat = backend.requests.at(-1)!;
    assert.equal(chat.system, "Be brief.");
    assert.equal(chat.messages[0]?.text, "Hi");
    assert.equal(chat.stream, false);
  });

  await t.step("tool calls come back as function, custom and namespaced items", async () => {
    backend.script({
      events: [
        { type: "tool_call", id: "call_1", name: "shell", arguments: '{"command":"ls"}' },
        {
          type: "tool_call",
          id: "call_2",
          name: "apply_patch",
          arguments: JSON.stringify({ input: "*** Begin Patch\n*** End Patch" }),
        },
        { type: "tool_call", id: "call_3", name: "mcp__files__read", arguments: '{"path":"a"}' },
        end("tool_use"),
      ],
    });
    const response = await client.responses.create({
      model: MODEL,
      input: "Go",
      tools: TOOLS as OpenAI.Responses.Tool[],
    });
    const [shell, patch, read] = response.output as unknown as Record<string, unknown>[];
    assert.deepEqual(
      { ...shell, id: undefined },
      {
        id: undefined,
        type: "function_call",
        status: "completed",
        arguments: '{"command":"ls"}',
        call_id: "call_1",
        name: "shell",
      },
    );
    assert.equal(patch?.type, "custom_tool_call");
    assert.equal(patch?.input, "*** Begin Patch\n*** End Patch");
    assert.equal(patch?.name, "apply_patch");
    assert.match(String(patch?.id), /^ctc_/);
    assert.equal(read?.type, "function_call");
    assert.equal(read?.name, "read");
    assert.equal(read?.namespace, "mcp__files__");
    const chat = backend.requests.at(-1)!;
    assert.deepEqual(chat.tools.map((tool) => tool.name), [
      "shell",
      "apply_patch",
      "mcp__files__read",
    ]);
    assert.deepEqual(chat.tools[1]?.inputSchema.required, ["input"]);
    assert.match(chat.tools[1]!.description, /lark grammar:\n\nstart: \/\.\+\//);
  });

  await t.step("parallel_tool_calls false delivers only the first call", async () => {
    backend.script({
      events: [
        { type: "tool_call", id: "call_1", name: "shell", arguments: '{"command":"ls"}' },
        { type: "tool_call", id: "call_2", name: "shell", arguments: '{"command":"pwd"}' },
        end("tool_use"),
      ],
    });
    const response = await client.responses.create({
      model: MODEL,
      input: "Go",
      tools: TOOLS as OpenAI.Responses.Tool[],
      parallel_tool_calls: false,
    });
    assert.deepEqual(
      response.output.map((item) => (item as { call_id?: string }).call_id),
      ["call_1"],
    );
  });

  await t.step("a reply cut off by the output limit is incomplete", async () => {
    backend.script({ events: [{ type: "text", text: "Half" }, end("max_tokens")] });
    const response = await client.responses.create({ model: MODEL, input: "Go" });
    assert.equal(response.status, "incomplete");
    assert.deepEqual(response.incomplete_details, { reason: "max_output_tokens" });
  });
});

Deno.test("POST /v1/responses streams the standard event sequence", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  await t.step("text and a call, in order, with increasing sequence numbers", async () => {
    backend.script({
      events: [
        { type: "reasoning", text: "Plan" },
        { type: "text", text: "Hel" },
        { type: "text", text: "lo" },
        { type: "tool_call", id: "call_1", name: "apply_patch", arguments: '{"input":"P"}' },
        end("tool_use"),
      ],
    });
    const res = await gateway.post("/v1/responses", {
      model: MODEL,
      input: [{ role: "user", content: [{ type: "input_text", text: "Hi" }] }],
      tools: TOOLS,
      stream: true,
      store: false,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseSse(await res.text());
    assert.deepEqual(events.map((event) => event.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.custom_tool_call_input.delta",
      "response.custom_tool_call_input.done",
      "response.output_item.done",
      "response.completed",
    ]);
    assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, i) => i));
    const completed = events.at(-1)!.response as Record<string, unknown>;
    const created = events[0]!.response as Record<string, unknown>;
    assert.equal(completed.id, created.id);
    assert.equal(created.status, "in_progress");
    assert.equal(completed.status, "completed");
    const output = completed.output as Record<string, unknown>[];
    assert.deepEqual(output.map((item) => item.type), [
      "reasoning",
      "message",
      "custom_tool_call",
    ]);
    assert.equal(output[2]?.input, "P");
    assert.deepEqual(Object.keys(completed.usage as object), [
      "input_tokens",
      "input_tokens_details",
      "output_tokens",
      "output_tokens_details",
      "total_tokens",
    ]);
    assert.equal(backend.requests.at(-1)?.stream, true);
  });

  await t.step(
    "a local shell call streams as added and done only; one call when parallel is off",
    async () => {
      backend.script({
        events: [
          { type: "tool_call", id: "s1", name: "local_shell", arguments: '{"command":["ls"]}' },
          { type: "tool_call", id: "s2", name: "local_shell", arguments: '{"command":["pwd"]}' },
          end("tool_use"),
        ],
      });
      const res = await gateway.post("/v1/responses", {
        model: MODEL,
        input: "List",
        tools: [{ type: "local_shell" }],
        parallel_tool_calls: false,
        stream: true,
      });
      const events = parseSse(await res.text());
      assert.deepEqual(events.map((event) => event.type), [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
      ]);
      const item = events[3]!.item as Record<string, unknown>;
      assert.equal(item.type, "local_shell_call");
      assert.equal(item.call_id, "s1");
      assert.deepEqual((item.action as { command: string[] }).command, ["ls"]);
    },
  );

  await t.step("the SDK's stream helper assembles the final response", async () => {
    backend.script({
      events: [
        { type: "text", text: "Hello" },
        { type: "text", text: " there" },
        { type: "tool_call", id: "call_9", name: "shell", arguments: '{"command":"ls"}' },
        end("tool_use"),
      ],
    });
    const stream = client.responses.stream({
      model: MODEL,
      input: "Hi",
      tools: TOOLS as OpenAI.Responses.Tool[],
    });
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (event) => deltas.push(event.delta));
    const response = await within(stream.finalResponse());
    assert.deepEqual(deltas, ["Hello", " there"]);
    assert.equal(response.output_text, "Hello there");
    const call = response.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
    assert.equal(call.type, "function_call");
    assert.equal(call.arguments, '{"command":"ls"}');
    assert.equal(call.call_id, "call_9");
  });

  await t.step("an error after the start ends the stream with response.failed", async () => {
    backend.script({
      events: [
        { type: "text", text: "Partial" },
        {
          type: "error",
          error: new GatewayError("rate_limited", "Kiro throttled the request", {
            retryAfterSeconds: 12,
          }),
        },
      ],
    });
    const res = await gateway.post("/v1/responses", { model: MODEL, input: "Hi", stream: true });
    const events = parseSse(await res.text());
    const last = events.at(-1)!;
    assert.equal(last.type, "response.failed");
    const response = last.response as Record<string, unknown>;
    assert.equal(response.status, "failed");
    assert.deepEqual(response.error, {
      code: "rate_limit_exceeded",
      message: "Kiro throttled the request. Please try again in 12s.",
    });
    assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, i) => i));
  });

  await t.step("a reply without an end still ends with response.failed", async () => {
    backend.script({ events: [{ type: "text", text: "Cut" }] });
    const res = await gateway.post("/v1/responses", { model: MODEL, input: "Hi", stream: true });
    const events = parseSse(await res.text());
    assert.equal(events.at(-1)?.type, "response.failed");
    const error = (events.at(-1)!.response as { error: { code: string } }).error;
    assert.equal(error.code, "server_error");
  });

  await t.step("context overflow mid-stream is context_length_exceeded", async () => {
    backend.script({
      events: [{ type: "error", error: new GatewayError("context_length", "Too long") }],
    });
    const res = await gateway.post("/v1/responses", { model: MODEL, input: "Hi", stream: true });
    const events = parseSse(await res.text());
    const error = (events.at(-1)!.response as { error: { code: string } }).error;
    assert.equal(error.code, "context_length_exceeded");
  });
});

Deno.test("POST /v1/responses errors before the stream are OpenAI error bodies", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  const cases: {
    name: string;
    error: GatewayError;
    status: number;
    code: string | null;
    retryAfter?: string;
  }[] = [
    {
      name: "a rate limit is 429 with Retry-After",
      error: new GatewayError("rate_limited", "Throttled", { retryAfterSeconds: 3 }),
      status: 429,
      code: "rate_limit_exceeded",
      retryAfter: "3",
    },
    {
      name: "context overflow is 400 context_length_exceeded",
      error: new GatewayError("context_length", "Input is too long"),
      status: 400,
      code: "context_length_exceeded",
    },
    {
      name: "a dead Kiro login is 401",
      error: new GatewayError("kiro_auth", "Log in again"),
      status: 401,
      code: "kiro_login_required",
    },
    {
      name: "an overloaded upstream is 503",
      error: new GatewayError("overloaded", "Busy"),
      status: 503,
      code: "server_is_overloaded",
    },
    {
      name: "an unreachable upstream is 502",
      error: new GatewayError("upstream_unreachable", "Down"),
      status: 502,
      code: "upstream_unreachable",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      backend.script({ error: c.error });
      const res = await gateway.post("/v1/responses", { model: MODEL, input: "Hi", stream: true });
      assert.equal(res.status, c.status);
      assert.equal(res.headers.get("retry-after"), c.retryAfter ?? null);
      const body = await res.json();
      assert.equal(body.error.code, c.code);
      assert.equal(body.error.message, c.error.message);
      assert.equal(typeof body.error.type, "string");
    });
  }

  await t.step("a wrong key is 401 in OpenAI's shape", async () => {
    const err = await clientFor(gateway, "wrong").responses.create({ model: MODEL, input: "Hi" })
      .catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 401);
    assert.equal(err.code, "invalid_api_key");
  });

  await t.step("a zstd body is refused with 415", async () => {
    const before = backend.requests.length;
    const res = await gateway.post("/v1/responses", "(\xb5/\xfd", { "content-encoding": "zstd" });
    assert.equal(res.status, 415);
    assert.match((await res.json()).error.message, /content-encoding "zstd"/);
    assert.equal(backend.requests.length, before);
  });

  await t.step("a non-streaming mid-reply error is the error's status", async () => {
    backend.script({
      events: [{ type: "error", error: new GatewayError("upstream_timeout", "Slow") }],
    });
    const err = await client.responses.create({ model: MODEL, input: "Hi" }).catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 504);
  });
});

Deno.test("POST /v1/responses refuses bad fields with a 400 naming them", async (t) => {
  const { backend, gateway } = setup();
  await using _ = gateway;
  const cases: { name: string; body: Record<string, unknown>; param: string }[] = [
    { name: "a missing model", body: { input: "Hi" }, param: "model" },
    { name: "input of the wrong type", body: { model: MODEL, input: 3 }, param: "input" },
    {
      name: "a message without content",
      body: { model: MODEL, input: [{ role: "user" }] },
      param: "input.0.content",
    },
    {
      name: "a message with an unknown role",
      body: { model: MODEL, input: [{ role: "robot", content: "x" }] },
      param: "input.0.role",
    },
    {
      name: "a text part without text",
      body: {
        model: MODEL,
        input: [{ role: "user", content: [{ type: "input_text", text: 5 }] }],
      },
      param: "input.0.content.0.text",
    },
    {
      name: "a function_call without call_id",
      body: {
        model: MODEL,
        input: [{ type: "function_call", name: "shell", arguments: "{}" }],
      },
      param: "input.0.call_id",
    },
    {
      name: "a function_call_output without call_id",
      body: { model: MODEL, input: [{ type: "function_call_output", output: "ok" }] },
      param: "input.0.call_id",
    },
    {
      name: "a function tool without a name",
      body: { model: MODEL, input: "Hi", tools: [{ type: "function", parameters: {} }] },
      param: "tools.0.name",
    },
    {
      name: "a namespace tool whose inner tool has no name",
      body: {
        model: MODEL,
        input: "Hi",
        tools: [{ type: "namespace", name: "ns", tools: [{ type: "function" }] }],
      },
      param: "tools.0.tools.0.name",
    },
    {
      name: "an unknown reasoning effort",
      body: { model: MODEL, input: "Hi", reasoning: { effort: "extreme" } },
      param: "reasoning.effort",
    },
    {
      name: "a non-boolean stream",
      body: { model: MODEL, input: "Hi", stream: "yes" },
      param: "stream",
    },
    {
      name: "a negative max_output_tokens",
      body: { model: MODEL, input: "Hi", max_output_tokens: -1 },
      param: "max_output_tokens",
    },
    {
      name: "a json_schema format without schema",
      body: { model: MODEL, input: "Hi", text: { format: { type: "json_schema", name: "x" } } },
      param: "text.format.schema",
    },
    {
      name: "an image that is not a data or http URL",
      body: {
        model: MODEL,
        input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x" }] }],
      },
      param: "input.0.content.0.image_url",
    },
    {
      name: "an empty input",
      body: { model: MODEL, input: [] },
      param: "input",
    },
    {
      name: "a temperature that is not a number",
      body: { model: MODEL, input: "Hi", temperature: "hot" },
      param: "temperature",
    },
    {
      name: "a part that carries nothing Kiro can take",
      body: {
        model: MODEL,
        input: [{
          role: "user",
          content: [{ type: "input_text", text: "read" }, { type: "input_file", file_id: "f1" }],
        }],
      },
      param: "input.0.content.1.type",
    },
    {
      name: "image data that is not base64",
      body: {
        model: MODEL,
        input: [{
          role: "user",
          content: [{ type: "input_image", image_url: "data:image/png;base64,@@not" }],
        }],
      },
      param: "input.0.content.0.image_url",
    },
    {
      name: "an image of a type Kiro refuses",
      body: {
        model: MODEL,
        input: [{
          role: "user",
          content: [{ type: "input_image", image_url: "data:image/bmp;base64,Qk0=" }],
        }],
      },
      param: "input.0.content.0.image_url",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const before = backend.requests.length;
      const res = await gateway.post("/v1/responses", c.body);
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.param, c.param);
      assert.ok(body.error.message.includes(c.param), body.error.message);
      assert.equal(backend.requests.length, before, "nothing was sent upstream");
    });
  }

  await t.step("a part of an unknown type that carries text is taken as text", async () => {
    backend.script({ events: [{ type: "text", text: "ok" }, end()] });
    const res = await gateway.post("/v1/responses", {
      model: MODEL,
      input: [{
        role: "user",
        content: [{ type: "input_text", text: "one" }, { type: "fancy_text", text: "two" }],
      }],
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(backend.requests.at(-1)?.messages[0]?.text, "one\ntwo");
  });

  await t.step("unknown fields and item types are ignored", async () => {
    backend.script({ events: [{ type: "text", text: "ok" }, end()] });
    const res = await gateway.post("/v1/responses", {
      model: MODEL,
      input: [
        { type: "web_search_call", id: "ws_1", status: "completed" },
        { type: "compaction_summary", encrypted_content: "x" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "secret plan" }] },
        { type: "message", role: "user", content: "Hi", phase: "final" },
      ],
      tools: [{ type: "image_generation" }, { type: "web_search" }],
      access_programs: ["x"],
      client_metadata: { a: 1 },
      service_tier: "auto",
      include: ["reasoning.encrypted_content"],
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const chat = backend.requests.at(-1)!;
    assert.deepEqual(chat.tools, []);
    assert.equal(chat.messages.length, 1);
    assert.ok(!JSON.stringify(chat).includes("secret plan"), "reasoning is never sent as text");
  });
});

Deno.test("stored responses chain with previous_response_id and can be read back", async (t) => {
  const { backend, gateway, client } = setup();
  await using _ = gateway;

  let first: OpenAI.Responses.Response | undefined;
  await t.step("a stored response is returned by GET /v1/responses/{id}", async () => {
    backend.script({ events: [{ type: "text", text: "I am Kiro." }, end()] });
    first = await client.responses.create({ model: MODEL, input: "Who are you?" });
    const fetched = await client.responses.retrieve(first.id);
    assert.equal(fetched.id, first.id);
    assert.equal(fetched.output_text, "I am Kiro.");
  });

  await t.step("previous_response_id sends the stored conversation first", async () => {
    backend.script({ events: [{ type: "text", text: "Yes." }, end()] });
    const second = await client.responses.create({
      model: MODEL,
      input: "Sure?",
      previous_response_id: first!.id,
    });
    assert.equal(second.previous_response_id, first!.id);
    const chat = backend.requests.at(-1)!;
    assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [
      ["user", "Who are you?"],
      ["assistant", "I am Kiro."],
      ["user", "Sure?"],
    ]);
  });

  await t.step("item_reference inputs are replaced by the stored items", async () => {
    backend.script({ events: [{ type: "text", text: "Referenced." }, end()] });
    await client.responses.create({
      model: MODEL,
      input: [
        { role: "user", content: "Who are you?" },
        { type: "item_reference", id: first!.output[0]!.id! },
        { type: "item_reference", id: "msg_unknown" },
        { role: "user", content: "Really?" },
      ],
    });
    const chat = backend.requests.at(-1)!;
    assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [
      ["user", "Who are you?"],
      ["assistant", "I am Kiro."],
      ["user", "Really?"],
    ]);
  });

  await t.step("a streamed response is stored before response.completed", async () => {
    backend.script({ events: [{ type: "text", text: "Streamed." }, end()] });
    const stream = client.responses.stream({ model: MODEL, input: "Stream" });
    const final = await within(stream.finalResponse());
    const fetched = await client.responses.retrieve(final.id);
    assert.equal(fetched.output_text, "Streamed.");
  });

  await t.step("store: false keeps nothing", async () => {
    backend.script({ events: [{ type: "text", text: "Gone." }, end()] });
    const response = await client.responses.create({ model: MODEL, input: "Hi", store: false });
    const err = await client.responses.retrieve(response.id).catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 404);
  });

  await t.step("an unknown previous_response_id is a 404 previous_response_not_found", async () => {
    const before = backend.requests.length;
    const err = await client.responses.create({
      model: MODEL,
      input: "Hi",
      previous_response_id: "resp_missing",
    }).catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 404);
    assert.equal(err.code, "previous_response_not_found");
    assert.equal(err.param, "previous_response_id");
    assert.equal(backend.requests.length, before);
  });
});

Deno.test("the store keeps at most RESPONSES_STORE_MAX_ENTRIES responses", async () => {
  const backend = createFakeBackend();
  const state = new MemoryState();
  await using gateway = startTestGateway({
    backend,
    config: { responsesStoreMaxEntries: 2 },
    deps: { state },
  });
  const client = clientFor(gateway);
  const ids: string[] = [];
  const itemIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const response = await client.responses.create({ model: MODEL, input: `Hi ${i}` });
    ids.push(response.id);
    itemIds.push(response.output[0]!.id!);
  }
  const err = await client.responses.retrieve(ids[0]!).catch((e) => e);
  assert.equal(err.status, 404);
  assert.equal(await state.get(`responses:item:${itemIds[0]}`), undefined, "its items forgotten");
  assert.equal(await state.get(`responses:item:${itemIds[2]}`), ids[2]);
  assert.equal((await client.responses.retrieve(ids[1]!)).id, ids[1]);
  assert.equal((await client.responses.retrieve(ids[2]!)).id, ids[2]);
});

Deno.test("a held stream repeats response.in_progress and a client disconnect cancels upstream", async (t) => {
  await t.step("in_progress repeats while the backend is silent", async () => {
    const backend = createFakeBackend();
    backend.script({ events: [{ type: "text", text: "Hi" }, end()], holdAfter: 1 });
    const deps = fixedHandlerDeps(backend);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => respondToResponses(req, deps, { keepAliveIntervalMs: 1 }),
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/v1/responses`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, input: "Hi", stream: true }),
    });
    assert.ok(res.body);
    const body = new StreamedText(res.body);
    const text = await body.until(
      (text) => text.split("event: response.in_progress\n").length - 1 >= 4,
      "three repeated in_progress events",
    );
    assert.ok(text.includes("response.output_text.delta"), "the first delta came first");
    backend.release();
    const events = parseSse(await body.rest());
    assert.equal(events.at(-1)?.type, "response.completed");
    assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, i) => i));
  });

  await t.step("a client that leaves mid-stream cancels the backend stream", async () => {
    const backend = createFakeBackend();
    backend.script({ events: [{ type: "text", text: "Hi" }, end()], holdAfter: 1 });
    await using gateway = startTestGateway({ backend });
    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, input: "Hi", stream: true }),
      signal: abort.signal,
    });
    assert.ok(res.body);
    const body = new StreamedText(res.body);
    await body.until((text) => text.includes("output_text.delta"), "a text delta");
    abort.abort();
    await body.settle();
    await within(backend.cancelled, 5000, "the backend cancellation");
  });
});
