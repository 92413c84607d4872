import assert from "node:assert/strict";
import OpenAI from "openai";
import { GENERATE_PATH } from "../fake_kiro.ts";
import {
  contextUsageFrame,
  exceptionFrame,
  meteringFrame,
  textFrame,
  toolFrames,
} from "../frames.ts";
import { within } from "../helpers.ts";
import { E2E_ARN, E2E_KEY, startE2eGateway } from "./gateway.ts";
import { openAiClient } from "./sdk_clients.ts";

interface KiroPayloadView {
  conversationState: {
    conversationId: string;
    currentMessage: { userInputMessage: Record<string, unknown> };
    history?: Record<string, Record<string, unknown>>[];
  };
  profileArn: string;
}

Deno.test("OpenAI SDK: a chat goes through Kiro and comes back with reasoning and usage", async () => {
  await using gw = await startE2eGateway();
  gw.kiro.replay({
    frames: [
      textFrame("<thinking>The user"),
      textFrame(" greets me.</thinking>\n\nHello"),
      textFrame(" there!"),
      meteringFrame(0.25),
      contextUsageFrame(1),
    ],
    chunkSizes: [7],
  });
  const reply = await openAiClient(gw.url).chat.completions.create({
    model: "claude-sonnet-4-5",
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }],
  });
  const message = reply.choices[0]!.message as typeof reply.choices[0]["message"] & {
    reasoning_content?: string;
  };
  assert.equal(message.content, "Hello there!");
  assert.equal(message.reasoning_content, "The user greets me.");
  assert.equal(reply.choices[0]!.finish_reason, "stop");
  assert.equal(reply.model, "claude-sonnet-4-5");
  // The client's input as counted locally, not Kiro's context share (1% would be 2000).
  assert.ok(reply.usage!.prompt_tokens > 5 && reply.usage!.prompt_tokens < 50);
  const reasoningTokens = reply.usage!.completion_tokens_details!.reasoning_tokens!;
  assert.ok(reasoningTokens > 0 && reasoningTokens < reply.usage!.completion_tokens);
  assert.equal(reply.usage!.prompt_tokens_details!.cached_tokens, 0);
  assert.equal((reply.usage as unknown as { credits_used: number }).credits_used, 0.25);

  const request = await gw.kiro.nextRequest(GENERATE_PATH);
  assert.equal(request.headers["authorization"], "Bearer access-1");
  const payload = request.body as KiroPayloadView;
  assert.equal(payload.profileArn, E2E_ARN);
  const current = payload.conversationState.currentMessage.userInputMessage;
  assert.equal(current.modelId, "claude-sonnet-4.5");
  assert.match(String(current.content), /^<thinking_mode>enabled<\/thinking_mode>/);
  assert.match(String(current.content), /\nBe brief\.\n/);
  assert.match(String(current.content), /\n\nHi$/);
});

Deno.test("OpenAI SDK: streamed tool calls arrive whole, with the client's own long tool name", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const longName = `mcp__filesystem_server__${
    "read_multiple_files_with_a_very_long_name_".repeat(2)
  }`;
  gw.kiro.replay({
    frames: [textFrame("Reading.")],
  });
  // The first call only learns the alias Kiro will see.
  const client = openAiClient(gw.url);
  const tools = [{
    type: "function" as const,
    function: {
      name: longName,
      description: "Read files",
      parameters: {
        type: "object",
        properties: { path: { type: "string" } },
        required: ["path"],
        additionalProperties: false,
      },
    },
  }];
  await client.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Read a.txt" }],
    tools,
  });
  const first = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const context = first.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as { tools: { toolSpecification: Record<string, unknown> }[] };
  const spec = context.tools[0]!.toolSpecification;
  const alias = String(spec.name);
  assert.ok(alias.length <= 64 && alias !== longName, alias);
  assert.deepEqual(spec.inputSchema, {
    json: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  });

  gw.kiro.replay({
    frames: [
      textFrame("Let me read it."),
      ...toolFrames("tooluse_A1", alias, ['{"pa', 'th": "a.t', 'xt"}']),
      ...toolFrames("tooluse_B2", alias, ['{"path": "b.txt"}']),
      meteringFrame(0.1),
      contextUsageFrame(2),
    ],
    chunkSizes: [5],
  });
  const stream = client.chat.completions.stream({
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Read a.txt and b.txt" }],
    tools,
  });
  const completion = await within(stream.finalChatCompletion());
  const calls = completion.choices[0]!.message.tool_calls!;
  assert.equal(completion.choices[0]!.finish_reason, "tool_calls");
  assert.deepEqual(
    calls.map((c) =>
      c.type === "function" ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : []
    ),
    [["tooluse_A1", longName, { path: "a.txt" }], ["tooluse_B2", longName, { path: "b.txt" }]],
  );
  assert.equal(completion.choices[0]!.message.content, "Let me read it.");

  // The tool round trip: results reach Kiro as toolResults under the alias.
  gw.kiro.replay({ frames: [textFrame("Both read."), contextUsageFrame(2)] });
  await gw.kiro.nextRequest(GENERATE_PATH);
  await client.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [
      { role: "user", content: "Read a.txt" },
      completion.choices[0]!.message,
      { role: "tool", tool_call_id: "tooluse_A1", content: "alpha" },
      { role: "tool", tool_call_id: "tooluse_B2", content: "" },
    ],
    tools,
  });
  const third = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const results = (third.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as { toolResults: unknown[] }).toolResults;
  assert.deepEqual(results, [
    { content: [{ text: "alpha" }], status: "success", toolUseId: "tooluse_A1" },
    { content: [{ text: "(empty result)" }], status: "success", toolUseId: "tooluse_B2" },
  ]);
  const uses = third.conversationState.history!.at(-1)!.assistantResponseMessage!.toolUses as {
    name: string;
  }[];
  assert.deepEqual(uses.map((u) => u.name), [alias, alias]);
});

Deno.test("OpenAI SDK: a Kiro exception mid-stream becomes one in-band error and the end", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({
    frames: [textFrame("Partial "), exceptionFrame("ThrottlingException", "Too many requests")],
  });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
  });
  assert.equal(res.status, 200);
  const events = (await res.text()).trim().split("\n\n").map((e) => e.replace(/^data: /, ""));
  assert.equal(events.at(-1), "[DONE]");
  const error = JSON.parse(events.at(-2)!);
  assert.equal(error.error.type, "rate_limit_exceeded");
  assert.match(error.error.message, /ThrottlingException/);
  assert.ok(events.some((e) => e.includes('"content":"Partial "')));
});

Deno.test("OpenAI SDK: a cut-off tool call is never delivered and the next turn is told", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({
    frames: [
      textFrame("Writing the file."),
      ...toolFrames("tooluse_W", "Write", ['{"path": "big.ts", "content": "export const x = ']),
    ],
  });
  const client = openAiClient(gw.url);
  const tools = [{
    type: "function" as const,
    function: { name: "Write", description: "Write a file", parameters: { type: "object" } },
  }];
  const reply = await client.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Write big.ts" }],
    tools,
  });
  const choice = reply.choices[0]!;
  assert.equal(choice.finish_reason, "length");
  assert.equal(choice.message.tool_calls, undefined);
  assert.match(choice.message.content!, /Write/);
  await gw.kiro.nextRequest(GENERATE_PATH);

  gw.kiro.replay({ frames: [textFrame("Smaller parts then."), contextUsageFrame(1)] });
  await client.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [
      { role: "user", content: "Write big.ts" },
      { role: "assistant", content: choice.message.content },
      { role: "user", content: "Go on" },
    ],
    tools,
  });
  const next = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const texts = JSON.stringify(next.conversationState);
  assert.match(texts, /\[System Notice\]/);
});

Deno.test("OpenAI SDK: a client that leaves mid-stream cancels the Kiro call", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const [reply] = gw.kiro.replay({
    frames: [textFrame("First words"), textFrame("never sent")],
    stallAfter: 1,
  });
  const abort = new AbortController();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    signal: abort.signal,
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  while (!seen.includes("First words")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value);
  }
  abort.abort();
  await reader.cancel().catch(() => {});
  await within(reply!.cancelled, 5000, "the upstream cancellation");
});

Deno.test("OpenAI SDK: a 403 refreshes the token and the retry succeeds unnoticed", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({ status: 403, body: { message: "Token expired" } }, {
    frames: [textFrame("Fine."), contextUsageFrame(1)],
  });
  const reply = await openAiClient(gw.url).chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Hi" }],
  });
  assert.equal(reply.choices[0]!.message.content, "Fine.");
  assert.deepEqual(gw.issuedTokens, ["access-1", "access-2"]);
  const auths = gw.kiro.requestsTo(GENERATE_PATH).map((r) => r.headers["authorization"]);
  assert.deepEqual(auths, ["Bearer access-1", "Bearer access-2"]);
});

Deno.test("OpenAI SDK: errors before the stream come in OpenAI's shape", async (t) => {
  await t.step("an oversized payload is refused before any Kiro call", async () => {
    await using gw = await startE2eGateway({ maxPayloadBytes: 5000 });
    const err = await openAiClient(gw.url).chat.completions.create({
      model: "claude-sonnet-4.5",
      messages: [{ role: "user", content: "x".repeat(10_000) }],
    }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.code, "context_length_exceeded");
    assert.equal(gw.kiro.requestsTo(GENERATE_PATH).length, 0);
  });
  await t.step("Kiro's 400 keeps its reason", async () => {
    await using gw = await startE2eGateway();
    gw.kiro.replay({
      status: 400,
      body: { message: "Invalid model.", reason: "INVALID_MODEL_ID" },
    });
    const err = await openAiClient(gw.url).chat.completions.create({
      model: "claude-nonexistent-9",
      messages: [{ role: "user", content: "Hi" }],
    }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.match(err.message, /claude-nonexistent-9/);
  });
});

Deno.test("OpenAI SDK: 20 concurrent streams through the whole pipeline do not mix", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const client = openAiClient(gw.url);
  // Each reply is matched to its request by the number the request carries.
  gw.kiro.route("POST", "/unused", () => new Response());
  const count = 20;
  gw.kiro.replay(
    ...Array.from({ length: count }, () => ({ frames: [textFrame("ok"), contextUsageFrame(1)] })),
  );
  const texts = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const stream = client.chat.completions.stream({
        model: "claude-sonnet-4.5",
        messages: [{ role: "user", content: `request ${i}` }],
      });
      const done = await within(stream.finalChatCompletion(), 10_000);
      return done.choices[0]!.message.content;
    }),
  );
  assert.deepEqual(texts, Array(count).fill("ok"));
  const sent = gw.kiro.requestsTo(GENERATE_PATH).map((r) =>
    String((r.body as KiroPayloadView).conversationState.currentMessage.userInputMessage.content)
  );
  const numbers = sent.map((text) => Number(text.match(/request (\d+)$/)?.[1]));
  assert.deepEqual(numbers.sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i));
});
