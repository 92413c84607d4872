import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { GENERATE_PATH } from "../fake_kiro.ts";
import {
  contextUsageFrame,
  exceptionFrame,
  meteringFrame,
  textFrame,
  toolFrames,
} from "../frames.ts";
import { within } from "../helpers.ts";
import { startE2eGateway } from "./gateway.ts";
import { anthropicClient } from "./sdk_clients.ts";

const THINKING_TEXT_TOOL = () => ({
  frames: [
    textFrame("<thinking>Need the"),
    textFrame(" weather.</thinking>\n\nLet me check."),
    ...toolFrames("tooluse_W1", "get_weather", ['{"city":', ' "Oslo"}']),
    meteringFrame(0.05),
    contextUsageFrame(0.5),
  ],
  chunkSizes: [3, 11],
});

const TOOLS = [{
  name: "get_weather",
  description: "Current weather",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" } },
    required: ["city"],
  },
}];

Deno.test("Anthropic SDK: stream and create agree on thinking, text and a tool call", async () => {
  await using gw = await startE2eGateway();
  gw.kiro.replay(THINKING_TEXT_TOOL(), THINKING_TEXT_TOOL());
  const client = anthropicClient(gw.url);
  const params = {
    model: "claude-sonnet-4-5",
    max_tokens: 2048,
    thinking: { type: "enabled" as const, budget_tokens: 2000 },
    tools: TOOLS,
    messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
  };
  const created = await client.messages.create(params);
  const streamed = await within(client.messages.stream(params).finalMessage());
  for (const message of [created, streamed]) {
    assert.equal(message.stop_reason, "tool_use");
    assert.deepEqual(message.content.map((b) => b.type), ["thinking", "text", "tool_use"]);
    const [thinking, text, tool] = message.content as [
      Anthropic.ThinkingBlock,
      Anthropic.TextBlock,
      Anthropic.ToolUseBlock,
    ];
    assert.equal(thinking.thinking, "Need the weather.");
    assert.equal(text.text, "Let me check.");
    assert.deepEqual([tool.id, tool.name, tool.input], [
      "tooluse_W1",
      "get_weather",
      { city: "Oslo" },
    ]);
  }
  const comparable = (message: Anthropic.Message) => {
    const { parsed_output: _parsed, ...rest } = message as Anthropic.Message & {
      parsed_output?: unknown;
    };
    return { ...rest, id: "", content: message.content.map(withoutSignature) };
  };
  assert.deepEqual(comparable(streamed), comparable(created));
  const payload = (await gw.kiro.nextRequest(GENERATE_PATH)).body as {
    conversationState: { currentMessage: { userInputMessage: { content: string } } };
  };
  assert.match(
    payload.conversationState.currentMessage.userInputMessage.content,
    /<max_thinking_length>2000<\/max_thinking_length>/,
  );
});

/** Signatures are random per reply; the SDK's stream helper adds `parsed_output`. */
function withoutSignature(block: Anthropic.ContentBlock): unknown {
  const { parsed_output: _parsed, ...rest } = block as Anthropic.ContentBlock & {
    parsed_output?: unknown;
  };
  return rest.type === "thinking" ? { ...rest, signature: "" } : rest;
}

Deno.test("Anthropic SDK: a tool_result round trip reaches Kiro as toolResults", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({ frames: [textFrame("It is 12°C."), contextUsageFrame(0.5)] });
  const reply = await anthropicClient(gw.url).messages.create({
    model: "claude-sonnet-4.5",
    max_tokens: 100,
    tools: TOOLS,
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: [{
          type: "tool_use",
          id: "tooluse_W1",
          name: "get_weather",
          input: { city: "Oslo" },
        }],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "tooluse_W1", content: "12°C, rain" }],
      },
    ],
  });
  assert.equal(reply.content[0]!.type === "text" && reply.content[0].text, "It is 12°C.");
  assert.equal(reply.stop_reason, "end_turn");
  const payload = (await gw.kiro.nextRequest(GENERATE_PATH)).body as {
    conversationState: {
      currentMessage: { userInputMessage: { userInputMessageContext: { toolResults: unknown } } };
      history: { assistantResponseMessage?: { toolUses: unknown } }[];
    };
  };
  const state = payload.conversationState;
  assert.deepEqual(state.currentMessage.userInputMessage.userInputMessageContext.toolResults, [
    { content: [{ text: "12°C, rain" }], status: "success", toolUseId: "tooluse_W1" },
  ]);
  assert.deepEqual(state.history.at(-1)!.assistantResponseMessage!.toolUses, [
    { input: { city: "Oslo" }, name: "get_weather", toolUseId: "tooluse_W1" },
  ]);
});

Deno.test("Anthropic SDK: count_tokens agrees with message_start", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({ frames: [textFrame("ok"), contextUsageFrame(0.5)] });
  const client = anthropicClient(gw.url);
  const params = {
    model: "claude-sonnet-4.5",
    system: "You are terse.",
    tools: TOOLS,
    messages: [{ role: "user" as const, content: "Count me" }],
  };
  const counted = await client.messages.countTokens(params);
  let startTokens = -1;
  const stream = client.messages.stream({ ...params, max_tokens: 10 });
  stream.on("streamEvent", (event) => {
    if (event.type === "message_start") startTokens = event.message.usage.input_tokens;
  });
  await within(stream.finalMessage());
  assert.ok(counted.input_tokens > 10);
  assert.equal(startTokens, counted.input_tokens);
});

Deno.test("Anthropic SDK: a throttling exception mid-stream is an error event", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({
    frames: [textFrame("Partial"), exceptionFrame("ThrottlingException", "Slow down")],
  });
  const stream = anthropicClient(gw.url).messages.stream({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    messages: [{ role: "user", content: "Hi" }],
  });
  const err = await within(stream.finalMessage().catch((e) => e));
  assert.ok(err instanceof Anthropic.APIError, String(err));
  assert.match(err.message, /rate_limit_error|Slow down/);
});

Deno.test("Anthropic SDK: a dead refresh token asks the user to log in again", async () => {
  await using gw = await startE2eGateway();
  gw.kiro.route(
    "POST",
    "/refreshToken",
    () =>
      Response.json({ error: "invalid_grant", message: "Invalid refresh token provided" }, {
        status: 400,
      }),
  );
  const err = await anthropicClient(gw.url).messages.create({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    messages: [{ role: "user", content: "Hi" }],
  }).catch((e) => e);
  assert.ok(err instanceof Anthropic.AuthenticationError, String(err));
  assert.match(err.message, /sign in to Kiro again/);
  assert.equal(gw.kiro.requestsTo(GENERATE_PATH).length, 0);
});

Deno.test("Anthropic SDK: a client that leaves mid-stream cancels the Kiro call", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const [reply] = gw.kiro.replay({
    frames: [textFrame("Hello"), textFrame("rest")],
    stallAfter: 1,
  });
  const abort = new AbortController();
  const stream = anthropicClient(gw.url).messages.stream({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    messages: [{ role: "user", content: "Hi" }],
  }, { signal: abort.signal });
  const firstText = Promise.withResolvers<void>();
  stream.on("text", () => firstText.resolve());
  await within(firstText.promise);
  abort.abort();
  await stream.done().catch(() => {});
  await within(reply!.cancelled, 5000, "the upstream cancellation");
});

Deno.test("Anthropic SDK: an MCP tool name over 64 characters round-trips unchanged", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const longName = `mcp__github_enterprise__${"create_or_update_file_contents_".repeat(3)}`;
  const tools = [{ ...TOOLS[0]!, name: longName }];
  const client = anthropicClient(gw.url);
  gw.kiro.replay({ frames: [textFrame("ok"), contextUsageFrame(0.5)] });
  await client.messages.create({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    tools,
    messages: [{ role: "user", content: "Hi" }],
  });
  const first = (await gw.kiro.nextRequest(GENERATE_PATH)).body as {
    conversationState: {
      currentMessage: {
        userInputMessage: {
          userInputMessageContext: { tools: { toolSpecification: { name: string } }[] };
        };
      };
    };
  };
  const alias = first.conversationState.currentMessage.userInputMessage.userInputMessageContext
    .tools[0]!.toolSpecification.name;
  assert.ok(alias.length <= 64 && /^[A-Za-z0-9_-]+$/.test(alias), alias);

  gw.kiro.replay({
    frames: [...toolFrames("tooluse_L1", alias, ['{"city": "Bergen"}']), contextUsageFrame(0.5)],
  });
  const message = await within(
    client.messages.stream({
      model: "claude-sonnet-4.5",
      max_tokens: 10,
      tools,
      messages: [{ role: "user", content: "Hi" }],
    }).finalMessage(),
  );
  const tool = message.content[0] as Anthropic.ToolUseBlock;
  assert.equal(tool.name, longName);
  assert.deepEqual(tool.input, { city: "Bergen" });
});
