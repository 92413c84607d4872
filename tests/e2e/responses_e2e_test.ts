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
import { E2E_KEY, startE2eGateway } from "./gateway.ts";
import { openAiClient } from "./sdk_clients.ts";

interface KiroPayloadView {
  conversationState: {
    currentMessage: { userInputMessage: Record<string, unknown> };
    history?: Record<string, Record<string, unknown>>[];
  };
}

type KiroToolSpec = { toolSpecification: { name: string; inputSchema: { json: unknown } } };

const TOOLS: OpenAI.Responses.Tool[] = [
  {
    type: "function",
    name: "shell",
    description: "Runs a shell command",
    parameters: {
      type: "object",
      properties: { command: { type: "array", items: { type: "string" } } },
      required: ["command"],
    },
    strict: false,
  },
  {
    type: "custom",
    name: "apply_patch",
    description: "Edits files with a patch",
    format: { type: "grammar", syntax: "lark", definition: 'start: "*** Begin Patch" /.+/' },
  },
  {
    type: "namespace",
    name: "mcp__docs__",
    description: "Documentation server",
    tools: [{
      type: "function",
      name: "search",
      description: "Searches the docs",
      parameters: { type: "object", properties: { q: { type: "string" } } },
      strict: false,
    }],
  } as unknown as OpenAI.Responses.Tool,
];

Deno.test("Responses: the OpenAI SDK gets a text reply through Kiro, reasoning and usage", async () => {
  await using gw = await startE2eGateway();
  gw.kiro.replay({
    frames: [
      textFrame("<thinking>Greet back."),
      textFrame("</thinking>\n\nHello"),
      textFrame(" there!"),
      meteringFrame(0.25),
      contextUsageFrame(1),
    ],
    chunkSizes: [9],
  });
  const response = await openAiClient(gw.url).responses.create({
    model: "claude-sonnet-4-5",
    instructions: "Be brief.",
    input: "Hi",
    reasoning: { effort: "low" },
  });
  assert.equal(response.status, "completed");
  assert.equal(response.output_text, "Hello there!");
  const reasoning = response.output[0] as OpenAI.Responses.ResponseReasoningItem;
  assert.equal(reasoning.type, "reasoning");
  assert.equal(reasoning.summary[0]?.text, "Greet back.");
  const usage = response.usage!;
  assert.ok(usage.input_tokens > 5 && usage.input_tokens < 50, String(usage.input_tokens));
  assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
  const reasoningTokens = usage.output_tokens_details.reasoning_tokens;
  assert.ok(reasoningTokens > 0 && reasoningTokens < usage.output_tokens);
  assert.equal(usage.input_tokens_details.cached_tokens, 0);

  const payload = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const content = String(payload.conversationState.currentMessage.userInputMessage.content);
  assert.match(content, /<max_thinking_length>819<\/max_thinking_length>/);
  assert.match(content, /Be brief\./);
  assert.match(content, /\n\nHi$/);
});

Deno.test("Responses: streamed tool calls keep their kinds through Kiro and back", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({
    frames: [
      textFrame("Working."),
      ...toolFrames("tooluse_A", "shell", ['{"command": ["ls",', ' "-la"]}']),
      ...toolFrames("tooluse_B", "apply_patch", ['{"input": "*** Begin Patch\\n*** End Patch"}']),
      ...toolFrames("tooluse_C", "mcp__docs__search", ['{"q": "streams"}']),
      meteringFrame(0.1),
      contextUsageFrame(2),
    ],
    chunkSizes: [11],
  });
  const stream = openAiClient(gw.url).responses.stream({
    model: "claude-sonnet-4.5",
    input: [{ role: "user", content: [{ type: "input_text", text: "Fix it" }] }],
    tools: TOOLS,
    store: false,
  });
  const response = await within(stream.finalResponse());
  const items = response.output as unknown as Record<string, unknown>[];
  assert.deepEqual(items.map((item) => item.type), [
    "message",
    "function_call",
    "custom_tool_call",
    "function_call",
  ]);
  assert.equal(items[1]?.arguments, '{"command": ["ls", "-la"]}');
  assert.equal(items[2]?.input, "*** Begin Patch\n*** End Patch");
  assert.equal(items[3]?.name, "search");
  assert.equal(items[3]?.namespace, "mcp__docs__");

  const payload = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const context = payload.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as { tools: KiroToolSpec[] };
  assert.deepEqual(context.tools.map((tool) => tool.toolSpecification.name), [
    "shell",
    "apply_patch",
    "mcp__docs__search",
  ]);
  assert.deepEqual(context.tools[1]!.toolSpecification.inputSchema.json, {
    type: "object",
    properties: { input: { type: "string", description: "The raw input text" } },
    required: ["input"],
  });

  // The next turn sends the whole history back, as Codex does with store: false.
  gw.kiro.replay({ frames: [textFrame("Done."), contextUsageFrame(2)] });
  const next = await openAiClient(gw.url).responses.create({
    model: "claude-sonnet-4.5",
    store: false,
    tools: TOOLS,
    input: [
      { role: "user", content: [{ type: "input_text", text: "Fix it" }] },
      ...response.output,
      { type: "function_call_output", call_id: "tooluse_A", output: "total 0" },
      { type: "custom_tool_call_output", call_id: "tooluse_B", output: "Patched" },
      { type: "function_call_output", call_id: "tooluse_C", output: "Found" },
    ] as OpenAI.Responses.ResponseInput,
  });
  assert.equal(next.output_text, "Done.");
  const second = (await gw.kiro.nextRequest(GENERATE_PATH)).body as KiroPayloadView;
  const history = second.conversationState.history!;
  const assistant = history.at(-1)!.assistantResponseMessage as {
    toolUses: { name: string; input: unknown; toolUseId: string }[];
  };
  assert.deepEqual(assistant.toolUses, [
    { name: "shell", input: { command: ["ls", "-la"] }, toolUseId: "tooluse_A" },
    {
      name: "apply_patch",
      input: { input: "*** Begin Patch\n*** End Patch" },
      toolUseId: "tooluse_B",
    },
    { name: "mcp__docs__search", input: { q: "streams" }, toolUseId: "tooluse_C" },
  ]);
  const results = (second.conversationState.currentMessage.userInputMessage
    .userInputMessageContext as { toolResults: { toolUseId: string; content: unknown }[] })
    .toolResults;
  assert.deepEqual(results.map((result) => [result.toolUseId, result.content]), [
    ["tooluse_A", [{ text: "total 0" }]],
    ["tooluse_B", [{ text: "Patched" }]],
    ["tooluse_C", [{ text: "Found" }]],
  ]);
});

Deno.test("Responses: a Kiro exception mid-stream ends with response.failed", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay({
    frames: [textFrame("Partial "), exceptionFrame("ThrottlingException", "Too many requests")],
  });
  const res = await fetch(`${gw.url}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4.5", input: "Hi", stream: true }),
  });
  assert.equal(res.status, 200);
  const events = (await res.text()).trim().split("\n\n").map((block) =>
    JSON.parse(block.split("\n")[1]!.slice("data: ".length))
  );
  const last = events.at(-1);
  assert.equal(last.type, "response.failed");
  assert.equal(last.response.error.code, "rate_limit_exceeded");
  assert.match(last.response.error.message, /try again in \d+s/);
  assert.ok(events.some((event) => event.delta === "Partial "));
});

Deno.test("Responses: an oversized conversation is 400 context_length_exceeded before Kiro", async () => {
  await using gw = await startE2eGateway({ maxPayloadBytes: 5000 });
  const err = await openAiClient(gw.url).responses.create({
    model: "claude-sonnet-4.5",
    input: "x".repeat(10_000),
  }).catch((e) => e);
  assert.ok(err instanceof OpenAI.BadRequestError, String(err));
  assert.equal(err.code, "context_length_exceeded");
  assert.equal(gw.kiro.requestsTo(GENERATE_PATH).length, 0);
});

Deno.test("Responses: a client that leaves mid-stream cancels the Kiro call", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const [reply] = gw.kiro.replay({
    frames: [textFrame("First words"), textFrame("never sent")],
    stallAfter: 1,
  });
  const abort = new AbortController();
  const res = await fetch(`${gw.url}/v1/responses`, {
    method: "POST",
    signal: abort.signal,
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4.5", input: "Hi", stream: true }),
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
