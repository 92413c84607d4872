import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import {
  FAILING_QUERY,
  fakeSearchResults,
  GENERATE_PATH,
  MCP_PATH,
  type RecordedRequest,
} from "../fake_kiro.ts";
import { contextUsageFrame, meteringFrame, textFrame, toolFrames } from "../frames.ts";
import { StreamedText, within } from "../helpers.ts";
import { parseMetrics, valueOf } from "../ops/prometheus_parse.ts";
import { E2E_ARN, E2E_KEY, startE2eGateway } from "./gateway.ts";
import { anthropicClient, openAiClient } from "./sdk_clients.ts";

/** Claude Code's WebSearch sub-request as recorded from the real CLI (tests/agents/). */
const RECORDED_WEBSEARCH = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/agents/claude-code-websearch.json", import.meta.url)),
).body as Anthropic.MessageCreateParamsStreaming;

/**
 * The recorded sub-request with another query. Claude Code streams it with a max_tokens the
 * SDK refuses without a stream, so the non-streaming form asks for less.
 */
function claudeCodeWebSearch(
  query: string,
  maxTokens = 4096,
): Anthropic.MessageCreateParamsNonStreaming {
  const { stream: _stream, ...body } = structuredClone(RECORDED_WEBSEARCH);
  return {
    ...body,
    max_tokens: maxTokens,
    messages: [{
      role: "user",
      content: [{ type: "text", text: `Perform a web search for the query: ${query}` }],
    }],
  };
}

/** One model round as Kiro streams it: optional text, then tool calls. */
function round(text: string, calls: Array<[id: string, name: string, input: unknown]> = []) {
  return {
    frames: [
      ...(text === "" ? [] : [textFrame(text)]),
      ...calls.flatMap(([id, name, input]) => toolFrames(id, name, [JSON.stringify(input)])),
      meteringFrame(0.01),
      contextUsageFrame(0.5),
    ],
  };
}

interface KiroPayload {
  conversationState: {
    history: Array<{
      userInputMessage?: {
        content: string;
        userInputMessageContext?: {
          toolResults?: Array<{ toolUseId: string; content: Array<{ text: string }> }>;
        };
      };
      assistantResponseMessage?: {
        content: string;
        toolUses?: Array<{ toolUseId: string; name: string; input: unknown }>;
      };
    }>;
    currentMessage: {
      userInputMessage: {
        content: string;
        userInputMessageContext?: {
          tools?: Array<{ toolSpecification: { name: string } }>;
          toolResults?: Array<{ toolUseId: string; content: Array<{ text: string }> }>;
        };
      };
    };
  };
}

const payloadOf = (request: RecordedRequest) => request.body as KiroPayload;
const toolNamesOf = (request: RecordedRequest) =>
  payloadOf(request).conversationState.currentMessage.userInputMessage.userInputMessageContext
    ?.tools?.map((tool) => tool.toolSpecification.name) ?? [];
const currentResultsOf = (request: RecordedRequest) =>
  payloadOf(request).conversationState.currentMessage.userInputMessage.userInputMessageContext
    ?.toolResults ?? [];

/** The fake's hits as Anthropic web_search_result blocks. */
function expectedResults(query: string) {
  return fakeSearchResults(query).map((hit) => ({
    type: "web_search_result",
    title: hit.title,
    url: hit.url,
    encrypted_content: hit.snippet,
    page_age: new Date(hit.publishedDate).toUTCString().slice(5, 16),
  }));
}

/** Parses an SSE body into [event, data] pairs. */
function parseSse(text: string): Array<[string, Record<string, unknown>]> {
  return text.trim().split("\n\n").map((block) => {
    const event = block.match(/^event: (.*)$/m)?.[1] ?? "";
    const data = block.match(/^data: (.*)$/m)?.[1] ?? "null";
    return [event, JSON.parse(data)];
  });
}

Deno.test("Claude Code's WebSearch request is answered from Kiro MCP without calling the model", async (t) => {
  await using gw = await startE2eGateway();
  const client = anthropicClient(gw.url);
  const query = "deno 2 release notes";
  const created = await client.messages.create(claudeCodeWebSearch(query));
  const streamed = await within(
    client.messages.stream(claudeCodeWebSearch(query, 32000)).finalMessage(),
  );
  for (const [name, message] of [["create", created], ["stream", streamed]] as const) {
    await t.step(`${name}: search, results and a summary, with the search counted`, () => {
      assert.deepEqual(message.content.map((block) => block.type), [
        "server_tool_use",
        "web_search_tool_result",
        "text",
      ]);
      const [use, result, text] = message.content as [
        Anthropic.ServerToolUseBlock,
        Anthropic.WebSearchToolResultBlock,
        Anthropic.TextBlock,
      ];
      assert.match(use.id, /^srvtoolu_[0-9a-f]{32}$/);
      assert.equal(use.name, "web_search");
      assert.deepEqual(use.input, { query });
      assert.equal(result.tool_use_id, use.id);
      assert.deepEqual(result.content, expectedResults(query));
      assert.match(text.text, /Web search results for "deno 2 release notes"/);
      assert.match(text.text, /https:\/\/example\.com\/deno-2-release-notes\/1/);
      assert.equal(message.stop_reason, "end_turn");
      assert.equal(message.usage.server_tool_use?.web_search_requests, 1);
      assert.ok(message.usage.output_tokens > 0);
    });
  }
  assert.equal(gw.kiro.requestsTo(GENERATE_PATH).length, 0);
  const searches = gw.kiro.requestsTo(MCP_PATH);
  assert.equal(searches.length, 2);
  for (const search of searches) {
    assert.equal(search.headers["x-amzn-kiro-profile-arn"], E2E_ARN);
    assert.equal(search.headers["authorization"], "Bearer access-1");
  }
  const metrics = await fetch(`${gw.url}/metrics`, { headers: { "x-api-key": E2E_KEY } });
  const parsed = await parseMetrics(await metrics.text());
  const counted = valueOf(parsed, "kiro_gateway_web_searches_total");
  assert.equal(counted, 2);
});

Deno.test("Claude Code's WebSearch stream has the blocks in order with consecutive indexes", async () => {
  await using gw = await startE2eGateway();
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": E2E_KEY, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ ...claudeCodeWebSearch("oslo weather", 32000), stream: true }),
  });
  assert.equal(res.status, 200);
  const events = parseSse(await res.text()).filter(([event]) => event !== "ping");
  assert.deepEqual(events.map(([event, data]) => `${event}:${data.index ?? ""}`), [
    "message_start:",
    "content_block_start:0",
    "content_block_delta:0",
    "content_block_stop:0",
    "content_block_start:1",
    "content_block_stop:1",
    "content_block_start:2",
    "content_block_delta:2",
    "content_block_stop:2",
    "message_delta:",
    "message_stop:",
  ]);
  assert.deepEqual(events[2]![1].delta, {
    type: "input_json_delta",
    partial_json: '{"query":"oslo weather"}',
  });
  assert.deepEqual(
    (events[9]![1].usage as Record<string, unknown>).server_tool_use,
    { web_search_requests: 1 },
  );
});

Deno.test("a failed search is reported as web_search_tool_result_error, never as results", async (t) => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  await t.step("direct: the error block and a text that says so", async () => {
    const message = await anthropicClient(gw.url).messages.create(
      claudeCodeWebSearch(FAILING_QUERY),
    );
    const result = message.content[1] as Anthropic.WebSearchToolResultBlock;
    assert.deepEqual(result.content, {
      type: "web_search_tool_result_error",
      error_code: "unavailable",
    });
    const text = message.content[2] as Anthropic.TextBlock;
    assert.match(text.text, /failed: Kiro web search failed: Search backend unavailable/);
  });
  await t.step("loop: the model is told the search failed", async () => {
    gw.kiro.replay(
      round("", [["tooluse_f1", "web_search", { query: FAILING_QUERY }]]),
      round("The search is unavailable right now."),
    );
    const message = await anthropicClient(gw.url).messages.create({
      model: "claude-sonnet-4.5",
      max_tokens: 1000,
      tools: [
        { type: "web_search_20250305", name: "web_search" },
        { name: "noop", description: "Does nothing", input_schema: { type: "object" } },
      ],
      messages: [{ role: "user", content: "Search something" }],
    });
    assert.deepEqual(message.content.map((block) => block.type), [
      "server_tool_use",
      "web_search_tool_result",
      "text",
    ]);
    assert.deepEqual((message.content[1] as Anthropic.WebSearchToolResultBlock).content, {
      type: "web_search_tool_result_error",
      error_code: "unavailable",
    });
    await gw.kiro.nextRequest(GENERATE_PATH);
    const second = await gw.kiro.nextRequest(GENERATE_PATH);
    const [told] = currentResultsOf(second);
    assert.equal(told?.toolUseId, "tooluse_f1");
    assert.match(told!.content[0]!.text, /failed: Kiro web search failed: Search backend/);
    assert.match(told!.content[0]!.text, /could not be done instead of guessing/);
  });
});

Deno.test("Anthropic: the model searches twice, then calls a client tool (create and stream)", async (t) => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const rounds = () => [
    round("Let me look that up.", [["tooluse_s1", "web_search", { query: "deno 2" }]]),
    round("", [["tooluse_s2", "web_search", { query: "deno 2 lts" }]]),
    round("Now the file.", [["tooluse_c1", "read_file", { path: "deno.json" }]]),
  ];
  const params = {
    model: "claude-sonnet-4.5",
    max_tokens: 4000,
    tools: [
      { type: "web_search_20250305" as const, name: "web_search" as const, max_uses: 5 },
      {
        name: "read_file",
        description: "Reads a file",
        input_schema: {
          type: "object" as const,
          properties: { path: { type: "string" } },
          required: ["path"],
        },
      },
    ],
    messages: [{ role: "user" as const, content: "Which Deno version should deno.json pin?" }],
  };
  const client = anthropicClient(gw.url);
  gw.kiro.replay(...rounds());
  const created = await client.messages.create(params);
  gw.kiro.replay(...rounds());
  const streamed = await within(client.messages.stream(params).finalMessage());
  for (const [name, message] of [["create", created], ["stream", streamed]] as const) {
    await t.step(`${name}: every search shows, then the client's call`, () => {
      assert.deepEqual(message.content.map((block) => block.type), [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "tool_use",
      ]);
      const uses = message.content.filter((b) => b.type === "server_tool_use");
      assert.deepEqual(uses.map((b) => b.input), [{ query: "deno 2" }, { query: "deno 2 lts" }]);
      const results = message.content.filter((b) => b.type === "web_search_tool_result");
      assert.deepEqual(results.map((b) => b.content), [
        expectedResults("deno 2"),
        expectedResults("deno 2 lts"),
      ]);
      const call = message.content[6] as Anthropic.ToolUseBlock;
      assert.deepEqual([call.id, call.name, call.input], [
        "tooluse_c1",
        "read_file",
        { path: "deno.json" },
      ]);
      assert.equal(message.stop_reason, "tool_use");
      assert.equal(message.usage.server_tool_use?.web_search_requests, 2);
    });
  }
  await t.step("Kiro saw each search's call and result in the working conversation", async () => {
    const first = await gw.kiro.nextRequest(GENERATE_PATH);
    assert.deepEqual(toolNamesOf(first).sort(), ["read_file", "web_search"]);
    await gw.kiro.nextRequest(GENERATE_PATH);
    const third = await gw.kiro.nextRequest(GENERATE_PATH);
    const history = payloadOf(third).conversationState.history;
    const uses = history.flatMap((entry) => entry.assistantResponseMessage?.toolUses ?? []);
    assert.deepEqual(uses.map((use) => [use.toolUseId, use.name, use.input]), [
      ["tooluse_s1", "web_search", { query: "deno 2" }],
      ["tooluse_s2", "web_search", { query: "deno 2 lts" }],
    ]);
    const resultTexts = [
      ...history.flatMap((entry) =>
        entry.userInputMessage?.userInputMessageContext?.toolResults ?? []
      ),
      ...currentResultsOf(third),
    ].map((result) => result.content[0]!.text);
    assert.equal(resultTexts.length, 2);
    assert.match(resultTexts[0]!, /1\. Result 1 for deno 2 \(published 2026-01-01\)\n/);
    assert.match(resultTexts[1]!, /https:\/\/example\.com\/deno-2-lts\/2/);
  });
});

Deno.test("Anthropic: searches and their results sent back in history reach Kiro as text", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay(round("Deno 2.9 it is."));
  await anthropicClient(gw.url).messages.create({
    model: "claude-sonnet-4.5",
    max_tokens: 100,
    messages: [
      { role: "user", content: "Latest Deno?" },
      {
        role: "assistant",
        content: [
          {
            type: "server_tool_use",
            id: "srvtoolu_1",
            name: "web_search",
            input: { query: "deno" },
          },
          {
            type: "web_search_tool_result",
            tool_use_id: "srvtoolu_1",
            content: [{
              type: "web_search_result",
              title: "Deno 2.9",
              url: "https://deno.com/blog/v2.9",
              encrypted_content: "Deno 2.9 is out.",
              page_age: null,
            }],
          },
          { type: "text", text: "Deno 2.9 is the latest." },
        ],
      },
      { role: "user", content: "Thanks, pin it." },
    ],
  });
  const payload = payloadOf(await gw.kiro.nextRequest(GENERATE_PATH));
  const assistant = payload.conversationState.history.find((entry) =>
    entry.assistantResponseMessage
  )!.assistantResponseMessage!;
  assert.match(assistant.content, /Web search results for "deno"/);
  assert.match(assistant.content, /https:\/\/deno\.com\/blog\/v2\.9\n {3}Deno 2\.9 is out\./);
  assert.match(assistant.content, /Deno 2\.9 is the latest\.$/);
});

Deno.test("chat completions: web_search_options runs the loop and shows only the answer", async (t) => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const rounds = () => [
    round("Searching.", [["tooluse_s1", "web_search", { query: "oslo weather" }]]),
    round("It is 12°C in Oslo."),
  ];
  const params = {
    model: "claude-sonnet-4.5",
    messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
    web_search_options: {},
  };
  const client = openAiClient(gw.url);
  gw.kiro.replay(...rounds());
  const created = await client.chat.completions.create(params);
  gw.kiro.replay(...rounds());
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let streamedText = "";
  let finish: string | null = null;
  for await (const chunk of stream) {
    streamedText += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  await t.step("both forms give the rounds' text as paragraphs and stop", () => {
    assert.equal(created.choices[0]!.message.content, "Searching.\n\nIt is 12°C in Oslo.");
    assert.equal(created.choices[0]!.finish_reason, "stop");
    assert.equal(created.choices[0]!.message.tool_calls, undefined);
    assert.equal(streamedText, "Searching.\n\nIt is 12°C in Oslo.");
    assert.equal(finish, "stop");
  });
  await t.step("the model got the search results", async () => {
    const first = await gw.kiro.nextRequest(GENERATE_PATH);
    assert.deepEqual(toolNamesOf(first), ["web_search"]);
    const second = await gw.kiro.nextRequest(GENERATE_PATH);
    assert.match(currentResultsOf(second)[0]!.content[0]!.text, /Result 2 for oslo weather/);
  });
});

Deno.test("WEB_SEARCH decides when the model is offered the search tool", async (t) => {
  await t.step("on: a plain chat request gets no search tool", async () => {
    await using gw = await startE2eGateway({ fakeReasoning: false });
    gw.kiro.replay(round("Hi."));
    await openAiClient(gw.url).chat.completions.create({
      model: "claude-sonnet-4.5",
      messages: [{ role: "user", content: "Hi" }],
    });
    assert.deepEqual(toolNamesOf(await gw.kiro.nextRequest(GENERATE_PATH)), []);
  });
  await t.step("auto: every chat request gets it", async () => {
    await using gw = await startE2eGateway({ fakeReasoning: false, webSearch: "auto" });
    gw.kiro.replay(round("Hi."));
    await openAiClient(gw.url).chat.completions.create({
      model: "claude-sonnet-4.5",
      messages: [{ role: "user", content: "Hi" }],
    });
    assert.deepEqual(toolNamesOf(await gw.kiro.nextRequest(GENERATE_PATH)), ["web_search"]);
  });
  await t.step(
    "off: a request that asks for a search is refused in the dialect's shape",
    async () => {
      await using gw = await startE2eGateway({ webSearch: "off" });
      const anthropicErr = await anthropicClient(gw.url).messages.create(claudeCodeWebSearch("x"))
        .then(() => undefined, (err: unknown) => err);
      assert.ok(anthropicErr instanceof Anthropic.BadRequestError);
      assert.equal(
        (anthropicErr.error as { error: { type: string } }).error.type,
        "invalid_request_error",
      );
      assert.match(anthropicErr.message, /WEB_SEARCH=off/);
      const openAiErr = await openAiClient(gw.url).chat.completions.create({
        model: "claude-sonnet-4.5",
        messages: [{ role: "user", content: "Hi" }],
        web_search_options: {},
      }).then(() => undefined, (err: unknown) => err);
      assert.ok(openAiErr instanceof OpenAI.BadRequestError);
      assert.equal(openAiErr.type, "invalid_request_error");
      assert.match(openAiErr.message, /WEB_SEARCH=off/);
      assert.equal(gw.kiro.requests.filter((r) => r.path !== "/refreshToken").length, 0);
    },
  );
});

Deno.test("a client that leaves in the middle of a loop aborts the upstream calls", async (t) => {
  await t.step("during a search: the MCP call is aborted and no round follows", async () => {
    await using gw = await startE2eGateway({ fakeReasoning: false });
    const release = Promise.withResolvers<void>();
    const held = gw.kiro.holdMcp(release.promise);
    gw.kiro.replay(round("Looking.", [["tooluse_s1", "web_search", { query: "slow" }]]));
    const abort = new AbortController();
    const stream = anthropicClient(gw.url).messages.stream({
      model: "claude-sonnet-4.5",
      max_tokens: 100,
      tools: [
        { type: "web_search_20250305", name: "web_search" },
        { name: "noop", description: "Does nothing", input_schema: { type: "object" } },
      ],
      messages: [{ role: "user", content: "Search slowly" }],
    }, { signal: abort.signal });
    const searching = Promise.withResolvers<void>();
    stream.on("streamEvent", (event) => {
      if (event.type === "content_block_start" && event.content_block.type === "server_tool_use") {
        searching.resolve();
      }
    });
    await within(searching.promise, 5000, "the search block");
    await within(gw.kiro.nextRequest(MCP_PATH), 5000, "the MCP call");
    abort.abort();
    await stream.done().catch(() => {});
    await within(held.aborted, 5000, "the MCP call's abort");
    release.resolve();
    assert.equal(gw.kiro.requestsTo(GENERATE_PATH).length, 1);
  });
  await t.step("during the next round: that Kiro stream is cancelled", async () => {
    await using gw = await startE2eGateway({ fakeReasoning: false });
    const [, second] = gw.kiro.replay(
      round("", [["tooluse_s1", "web_search", { query: "deno" }]]),
      { frames: [textFrame("Deno 2.9"), textFrame(" is out.")], stallAfter: 1 },
    );
    const abort = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4.5",
        stream: true,
        web_search_options: {},
        messages: [{ role: "user", content: "Latest Deno?" }],
      }),
      signal: abort.signal,
    });
    const body = new StreamedText(res.body!);
    await body.until((text) => text.includes("Deno 2.9"), "the second round's text");
    abort.abort();
    await body.cancel();
    await within(second!.cancelled, 5000, "the second round's cancellation");
  });
});

/** Codex's web_search tool as Codex 0.171 declares it in every request (its "cached" default). */
const CODEX_WEB_SEARCH = {
  type: "web_search",
  external_web_access: false,
} as unknown as OpenAI.Responses.Tool;

const SHELL_TOOL: OpenAI.Responses.Tool = {
  type: "function",
  name: "shell",
  description: "Runs a shell command",
  parameters: {
    type: "object",
    properties: { command: { type: "array", items: { type: "string" } } },
    required: ["command"],
  },
  strict: false,
};

Deno.test("Responses: Codex's web_search tool runs the loop; searches are web_search_call items", async (t) => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  const rounds = () => [
    round("Checking.", [["tooluse_s1", "web_search", { query: "deno 2 lts" }]]),
    round("", [["tooluse_s2", "web_search", { query: FAILING_QUERY }]]),
    round("Pinning it.", [["tooluse_c1", "shell", { command: ["deno", "--version"] }]]),
  ];
  const params = {
    model: "claude-sonnet-4.5",
    instructions: "You are a coding agent.",
    input: "Which Deno version is LTS?",
    tools: [SHELL_TOOL, CODEX_WEB_SEARCH],
    store: false,
  };
  const client = openAiClient(gw.url);
  gw.kiro.replay(...rounds());
  const created = await client.responses.create(params);
  gw.kiro.replay(...rounds());
  const stream = await client.responses.create({ ...params, stream: true });
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  const completed = events.find((event) => event.type === "response.completed");
  assert.ok(completed?.type === "response.completed");
  for (const [name, response] of [["create", created], ["stream", completed.response]] as const) {
    await t.step(`${name}: text, both searches in order, then the client's call`, () => {
      const output = response.output as unknown as Array<Record<string, unknown>>;
      assert.deepEqual(output.map((item) => item.type), [
        "message",
        "web_search_call",
        "web_search_call",
        "message",
        "function_call",
      ]);
      const [, found, failed, , call] = output;
      assert.equal(found!.status, "completed");
      assert.deepEqual(found!.action, {
        type: "search",
        query: "deno 2 lts",
        sources: fakeSearchResults("deno 2 lts").map((hit) => ({ type: "url", url: hit.url })),
      });
      assert.match(String(found!.id), /^ws_/);
      assert.equal(failed!.status, "failed");
      assert.deepEqual(failed!.action, { type: "search", query: FAILING_QUERY, sources: [] });
      assert.equal(call!.name, "shell");
      assert.equal(call!.call_id, "tooluse_c1");
      assert.equal(response.status, "completed");
    });
  }
  await t.step("stream: each search has its standard events, as it happens", () => {
    const searchEvents = events.filter((event) =>
      event.type.startsWith("response.web_search_call.") ||
      (event.type.startsWith("response.output_item.") &&
        (event as { item: { type: string } }).item.type === "web_search_call")
    ).map((event) => event.type);
    const one = [
      "response.output_item.added",
      "response.web_search_call.in_progress",
      "response.web_search_call.searching",
      "response.web_search_call.completed",
      "response.output_item.done",
    ];
    assert.deepEqual(searchEvents, [...one, ...one]);
    const sequence = events.map((event) => event.sequence_number);
    assert.deepEqual(sequence, [...sequence].sort((a, b) => a - b));
  });
  await t.step("Kiro was offered web_search next to the client's tool", async () => {
    assert.deepEqual(toolNamesOf(await gw.kiro.nextRequest(GENERATE_PATH)).sort(), [
      "shell",
      "web_search",
    ]);
  });
});

Deno.test("Responses: with WEB_SEARCH=off Codex's web_search tool is left out, not refused", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false, webSearch: "off" });
  gw.kiro.replay(round("Hi."));
  const response = await openAiClient(gw.url).responses.create({
    model: "claude-sonnet-4.5",
    input: "Hi",
    tools: [SHELL_TOOL, CODEX_WEB_SEARCH],
    store: false,
  });
  assert.equal(response.output_text, "Hi.");
  assert.deepEqual(toolNamesOf(await gw.kiro.nextRequest(GENERATE_PATH)), ["shell"]);
  assert.equal(gw.kiro.requestsTo(MCP_PATH).length, 0);
});

Deno.test("Responses: a web_search_call item sent back tells the model what it searched", async () => {
  await using gw = await startE2eGateway({ fakeReasoning: false });
  gw.kiro.replay(round("2.9."));
  await openAiClient(gw.url).responses.create({
    model: "claude-sonnet-4.5",
    store: false,
    input: [
      { role: "user", content: "Latest Deno?" },
      {
        type: "web_search_call",
        id: "ws_1",
        status: "completed",
        action: { type: "search", query: "deno latest" },
      } as unknown as OpenAI.Responses.ResponseInputItem,
      { role: "assistant", content: "Deno 2.9." },
      { role: "user", content: "Pin it." },
    ],
  });
  const payload = payloadOf(await gw.kiro.nextRequest(GENERATE_PATH));
  const assistant = payload.conversationState.history.find((entry) =>
    entry.assistantResponseMessage
  )!.assistantResponseMessage!;
  assert.equal(assistant.content, '(Searched the web for "deno latest".)\n\nDeno 2.9.');
});
