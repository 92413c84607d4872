import assert from "node:assert/strict";
import { type Config, defaultConfig } from "../../src/config.ts";
import type {
  ChatMessage,
  ChatRequest,
  ToolCall,
  ToolDefinition,
  ToolResult,
} from "../../src/core/chat.ts";
import { TruncationStore } from "../../src/core/truncation.ts";
import { GatewayError } from "../../src/errors.ts";
import {
  buildKiroRequest,
  EMPTY_PLACEHOLDER,
  type KiroPayload,
  type KiroUserInputMessage,
  thinkingPrefix,
  toKiroImage,
  withTruncationNotices,
} from "../../src/kiro/request.ts";
import { assertValidPayload } from "../../src/kiro/request_lint.ts";
import { assertGolden } from "../golden_helper.ts";

const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEFGHIJKL";
const CONVERSATION_ID = "0d7a1c9e-5f43-4c1b-8a2e-77b0c7d1e0f2";
const PLAIN = defaultConfig({ fakeReasoning: false, truncationRecovery: false });

function user(text: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { role: "user", text, images: [], toolCalls: [], toolResults: [], ...extra };
}
function assistant(text: string, toolCalls: ToolCall[] = []): ChatMessage {
  return { role: "assistant", text, images: [], toolCalls, toolResults: [] };
}
function call(id: string, name = "bash", input: Record<string, unknown> = { cmd: "ls" }): ToolCall {
  return { id, name, input };
}
function result(toolUseId: string, content = "ok", isError = false): ToolResult {
  return { toolUseId, content, isError };
}
const BASH: ToolDefinition = {
  name: "bash",
  description: "Run a shell command",
  inputSchema: {
    type: "object",
    properties: { cmd: { type: "string" } },
    required: ["cmd"],
    additionalProperties: false,
  },
};

function chat(messages: ChatMessage[], overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: "claude-sonnet-4-5",
    system: "",
    messages,
    tools: [],
    thinking: { enabled: false, budgetTokens: 0 },
    stream: true,
    ...overrides,
  };
}

function build(
  request: ChatRequest,
  config: Readonly<Config> = PLAIN,
  truncation?: TruncationStore,
): KiroPayload {
  return buildKiroRequest(request, {
    modelId: "claude-sonnet-4.5",
    profileArn: ARN,
    conversationId: CONVERSATION_ID,
    config,
    truncation,
  }).payload;
}

function current(payload: KiroPayload): KiroUserInputMessage {
  return payload.conversationState.currentMessage.userInputMessage;
}

const WORKED_EXAMPLE = chat(
  [
    user("List files"),
    assistant("", [call("call_9")]),
    user("", { toolResults: [result("call_9", "a.txt\nb.txt")] }),
  ],
  { system: "You are terse.", tools: [BASH] },
);

Deno.test("the worked example of spec §2.10 builds the documented payload", async () => {
  const payload = build(WORKED_EXAMPLE);
  assert.deepEqual(payload, {
    conversationState: {
      chatTriggerType: "MANUAL",
      conversationId: CONVERSATION_ID,
      currentMessage: {
        userInputMessage: {
          content: "(empty placeholder)",
          modelId: "claude-sonnet-4.5",
          origin: "AI_EDITOR",
          userInputMessageContext: {
            tools: [{
              toolSpecification: {
                name: "bash",
                description: "Run a shell command",
                inputSchema: {
                  json: {
                    type: "object",
                    properties: { cmd: { type: "string" } },
                    required: ["cmd"],
                  },
                },
              },
            }],
            toolResults: [{
              content: [{ text: "a.txt\nb.txt" }],
              status: "success",
              toolUseId: "call_9",
            }],
          },
        },
      },
      history: [
        {
          userInputMessage: {
            content: "You are terse.\n\nList files",
            modelId: "claude-sonnet-4.5",
            origin: "AI_EDITOR",
          },
        },
        {
          assistantResponseMessage: {
            content: "(empty placeholder)",
            toolUses: [{ name: "bash", input: { cmd: "ls" }, toolUseId: "call_9" }],
          },
        },
      ],
    },
    profileArn: ARN,
  });
  assertValidPayload(payload);
  await assertGolden(`${JSON.stringify(payload, null, 2)}\n`, "kiro/worked_example.json");
});

Deno.test("the builder normalizes the conversation (spec §10.4)", async (t) => {
  await t.step("adjacent user messages merge with a newline and keep both images", () => {
    const png = { mediaType: "image/png", data: "AAA" };
    const gif = { mediaType: "image/gif", data: "BBB" };
    const payload = build(
      chat([user("Hello", { images: [png] }), user("World", { images: [gif] })]),
    );
    assert.equal(current(payload).content, "Hello\nWorld");
    assert.deepEqual(current(payload).images, [
      { format: "png", source: { bytes: "AAA" } },
      { format: "gif", source: { bytes: "BBB" } },
    ]);
    assert.equal(payload.conversationState.history, undefined);
  });

  await t.step("adjacent assistant tool calls and user tool results are concatenated", () => {
    const payload = build(chat([
      user("Go"),
      assistant("", [call("c1")]),
      assistant("", [call("c2"), call("c3")]),
      user("", { toolResults: [result("c1")] }),
      user("", { toolResults: [result("c2"), result("c3")] }),
    ], { tools: [BASH] }));
    const history = payload.conversationState.history ?? [];
    assert.equal(history.length, 2);
    const uses = "assistantResponseMessage" in history[1]!
      ? history[1].assistantResponseMessage.toolUses
      : [];
    assert.deepEqual(uses?.map((use) => use.toolUseId), ["c1", "c2", "c3"]);
    const results = current(payload).userInputMessageContext?.toolResults ?? [];
    assert.deepEqual(results.map((r) => r.toolUseId), ["c1", "c2", "c3"]);
    assertValidPayload(payload);
  });

  await t.step("a conversation starting with the assistant gets a placeholder user first", () => {
    const payload = build(chat([assistant("Hi, I am here"), user("Hello")]));
    assert.deepEqual(payload.conversationState.history, [
      {
        userInputMessage: {
          content: EMPTY_PLACEHOLDER,
          modelId: "claude-sonnet-4.5",
          origin: "AI_EDITOR",
        },
      },
      { assistantResponseMessage: { content: "Hi, I am here" } },
    ]);
    assertValidPayload(payload);
  });

  await t.step("an empty conversation is rejected", () => {
    assert.throws(() => build(chat([])), (err) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "invalid_request");
      assert.equal(err.message, "No messages to send");
      return true;
    });
  });

  await t.step("alternating conversations keep their order", () => {
    const payload = build(chat([user("a"), assistant("b"), user("c"), assistant("d"), user("e")]));
    const contents = (payload.conversationState.history ?? []).map((entry) =>
      "userInputMessage" in entry
        ? entry.userInputMessage.content
        : entry.assistantResponseMessage.content
    );
    assert.deepEqual(contents, ["a", "b", "c", "d"]);
    assert.equal(current(payload).content, "e");
  });

  await t.step("tool results at the start become text after the message text", () => {
    const payload = build(
      chat([user("See this", { toolResults: [result("c9", "data")] })], { tools: [BASH] }),
    );
    assert.equal(current(payload).content, "See this\n\n[Tool Result (c9)]\ndata");
    assert.equal(current(payload).userInputMessageContext?.toolResults, undefined);
    assertValidPayload(payload);
  });

  await t.step("tool results after an assistant without tool calls become text", () => {
    const payload = build(
      chat([user("a"), assistant("b"), user("", { toolResults: [result("c1", "")] })], {
        tools: [BASH],
      }),
    );
    assert.equal(current(payload).content, "[Tool Result (c1)]\n(empty result)");
    assertValidPayload(payload);
  });

  await t.step("only the results whose id was not asked for become text", () => {
    const payload = build(chat([
      user("a"),
      assistant("", [call("c1")]),
      user("", { toolResults: [result("c1", "one"), result("c2", "two")] }),
    ], { tools: [BASH] }));
    assert.equal(current(payload).content, "[Tool Result (c2)]\ntwo");
    assert.deepEqual(
      current(payload).userInputMessageContext?.toolResults?.map((r) => r.toolUseId),
      ["c1"],
    );
    assertValidPayload(payload);
  });

  await t.step("without tools, tool traffic becomes text and images stay", () => {
    const image = { mediaType: "image/png", data: "IMG" };
    const payload = build(chat([
      user("List"),
      assistant("Checking", [call("call_1", "bash", { command: "ls" })]),
      user("", { toolResults: [result("call_1", "a.txt")], images: [image] }),
    ]));
    const history = payload.conversationState.history ?? [];
    assert.deepEqual(history[1], {
      assistantResponseMessage: { content: 'Checking\n\n[Tool: bash (call_1)]\n{"command":"ls"}' },
    });
    assert.equal(current(payload).content, "[Tool Result (call_1)]\na.txt");
    assert.deepEqual(current(payload).images, [{ format: "png", source: { bytes: "IMG" } }]);
    assert.equal(current(payload).userInputMessageContext, undefined);
    assertValidPayload(payload);
  });

  await t.step("without tools, an empty call id is left out of the text", () => {
    const payload = build(chat([user("x"), assistant("", [call("", "bash", {})]), user("y")]));
    const history = payload.conversationState.history ?? [];
    assert.deepEqual(history[1], { assistantResponseMessage: { content: "[Tool: bash]\n{}" } });
  });

  await t.step("history calls to tools that are not declared become text", () => {
    const payload = build(chat([
      user("a"),
      assistant("", [call("c1", "old_tool"), call("c2", "bash")]),
      user("", { toolResults: [result("c1", "r1"), result("c2", "r2")] }),
    ], { tools: [BASH] }));
    const history = payload.conversationState.history ?? [];
    assert.deepEqual(history[1], {
      assistantResponseMessage: {
        content: '[Tool: old_tool (c1)]\n{"cmd":"ls"}',
        toolUses: [{ name: "bash", input: { cmd: "ls" }, toolUseId: "c2" }],
      },
    });
    assert.equal(current(payload).content, "[Tool Result (c1)]\nr1");
    assertValidPayload(payload);
  });

  await t.step("empty history texts become placeholders", () => {
    const payload = build(chat([user(""), assistant("  "), user("go")]));
    const history = payload.conversationState.history ?? [];
    assert.deepEqual(
      history.map((entry) =>
        "userInputMessage" in entry
          ? entry.userInputMessage.content
          : entry.assistantResponseMessage.content
      ),
      [EMPTY_PLACEHOLDER, EMPTY_PLACEHOLDER],
    );
  });

  await t.step("history user images go on userInputMessage, never in the context", () => {
    const payload = build(
      chat([
        user("look", { images: [{ mediaType: "image/webp", data: "W" }] }),
        assistant("seen"),
        user("ok"),
      ]),
    );
    const first = payload.conversationState.history?.[0];
    assert.ok(first && "userInputMessage" in first);
    assert.deepEqual(first.userInputMessage.images, [{ format: "webp", source: { bytes: "W" } }]);
    assert.equal(first.userInputMessage.userInputMessageContext, undefined);
    const second = payload.conversationState.history?.[1];
    assert.ok(second && "assistantResponseMessage" in second);
    assert.equal("toolUses" in second.assistantResponseMessage, false);
    assert.equal("images" in current(payload), false);
  });

  await t.step("a trailing assistant message is sent as prefill after the history", () => {
    const payload = build(
      chat([user("Write a poem"), assistant("Roses are", [call("c1")])], {
        thinking: { enabled: true, budgetTokens: 100 },
        tools: [BASH],
      }),
      defaultConfig({ fakeReasoning: true, truncationRecovery: false }),
    );
    const history = payload.conversationState.history ?? [];
    assert.deepEqual(history[1], { assistantResponseMessage: { content: "Roses are" } });
    assert.equal(current(payload).content, EMPTY_PLACEHOLDER);
    assertValidPayload(payload);
  });
});

Deno.test("the builder converts tools and tool traffic (spec §10.4)", async (t) => {
  await t.step(
    "tool results: empty becomes (empty result), errors get a marker, unicode stays",
    () => {
      const payload = build(chat([
        user("a"),
        assistant("", [call("c1"), call("c2"), call("c3")]),
        user("", {
          toolResults: [result("c1", ""), result("c2", "boom", true), result("c3", "héllo ✓ 日本")],
        }),
      ], { tools: [BASH] }));
      assert.deepEqual(current(payload).userInputMessageContext?.toolResults, [
        { content: [{ text: "(empty result)" }], status: "success", toolUseId: "c1" },
        { content: [{ text: "Error: boom" }], status: "success", toolUseId: "c2" },
        { content: [{ text: "héllo ✓ 日本" }], status: "success", toolUseId: "c3" },
      ]);
    },
  );

  await t.step("an empty description becomes Tool: name and the schema is sanitized", () => {
    const payload = build(chat([user("a")], {
      tools: [{
        name: "noop",
        description: "  ",
        inputSchema: { type: "object", required: [], additionalProperties: true },
      }],
    }));
    assert.deepEqual(current(payload).userInputMessageContext?.tools, [
      {
        toolSpecification: {
          name: "noop",
          description: "Tool: noop",
          inputSchema: { json: { type: "object" } },
        },
      },
    ]);
  });

  await t.step("a description above the limit moves into the system prompt", () => {
    const long = "d".repeat(15000);
    const payload = build(
      chat([user("hi")], {
        tools: [{ ...BASH, description: long }, { ...BASH, name: "short" }],
      }),
      defaultConfig({
        fakeReasoning: false,
        truncationRecovery: false,
        toolDescriptionMaxLength: 10000,
      }),
    );
    const [moved, kept] = current(payload).userInputMessageContext?.tools ?? [];
    assert.equal(
      moved?.toolSpecification.description,
      "[Full documentation in system prompt under '## Tool: bash']",
    );
    assert.deepEqual(moved?.toolSpecification.inputSchema.json.properties, {
      cmd: { type: "string" },
    });
    assert.equal(kept?.toolSpecification.description, "Run a shell command");
    const content = current(payload).content;
    assert.ok(
      content.startsWith("# Tool Documentation\n"),
      "the block starts the empty system prompt",
    );
    assert.ok(content.includes(`## Tool: bash\n\n${long}`));
    assert.ok(content.endsWith("\n\nhi"));
  });

  await t.step("a limit of 0 keeps long descriptions in place", () => {
    const long = "d".repeat(15000);
    const payload = build(
      chat([user("hi")], { tools: [{ ...BASH, description: long }] }),
      defaultConfig({
        fakeReasoning: false,
        truncationRecovery: false,
        toolDescriptionMaxLength: 0,
      }),
    );
    assert.equal(
      current(payload).userInputMessageContext?.tools?.[0]?.toolSpecification.description,
      long,
    );
    assert.equal(current(payload).content, "hi");
  });

  await t.step("names Kiro rejects are aliased in tools and history, and map back", () => {
    const mcp = `mcp__some_server__${"x".repeat(70)}`;
    const dotted = "files.read";
    const exact64 = "n".repeat(64);
    const badId = `call|${"7".repeat(70)}`;
    const { payload, toolNames } = buildKiroRequest(
      chat([
        user("a"),
        assistant("", [call(badId, mcp, {}), call("c2", dotted, {}), call("c3", exact64, {})]),
        user("", { toolResults: [result(badId), result("c2"), result("c3")] }),
      ], {
        tools: [{ ...BASH, name: mcp }, { ...BASH, name: dotted }, { ...BASH, name: exact64 }],
      }),
      {
        modelId: "claude-sonnet-4.5",
        profileArn: ARN,
        conversationId: CONVERSATION_ID,
        config: PLAIN,
      },
    );
    const names = (current(payload).userInputMessageContext?.tools ?? []).map((tool) =>
      tool.toolSpecification.name
    );
    assert.equal(names[2], exact64);
    assert.notEqual(names[0], mcp);
    assert.ok(names.every((name) => /^[a-zA-Z0-9_-]{1,64}$/.test(name)));
    assert.deepEqual(names.map((name) => toolNames.fromKiro(name)), [mcp, dotted, exact64]);
    const entry = payload.conversationState.history?.[1];
    assert.ok(entry && "assistantResponseMessage" in entry);
    const uses = entry.assistantResponseMessage.toolUses ?? [];
    assert.deepEqual(uses.map((use) => use.name), names);
    const sentId = uses[0]?.toolUseId ?? "";
    assert.match(sentId, /^tooluse_[0-9a-f]{32}$/);
    assert.equal(current(payload).userInputMessageContext?.toolResults?.[0]?.toolUseId, sentId);
    assert.equal(toolNames.fromKiroId(sentId), badId);
    assertValidPayload(payload);
  });
});

Deno.test("the builder assembles the system prompt", async (t) => {
  await t.step("it goes before the current text when there is no history", () => {
    const payload = build(chat([user("Hi")], { system: "Be nice." }));
    assert.equal(current(payload).content, "Be nice.\n\nHi");
  });

  await t.step("it replaces an empty current text", () => {
    const payload = build(chat([user("")], { system: "Be nice." }));
    assert.equal(current(payload).content, "Be nice.");
  });

  await t.step(
    "the reasoning and truncation blocks follow in order whenever the flags are on",
    () => {
      const config = defaultConfig({ fakeReasoning: true, truncationRecovery: true });
      const payload = build(chat([user("Hi")], { system: "Be nice." }), config);
      const content = current(payload).content;
      const thinking = content.indexOf("\n\n---\n# Extended Thinking Mode\n");
      const truncation = content.indexOf("\n\n---\n# Output Truncation Handling\n");
      assert.ok(content.startsWith("Be nice.\n\n---\n# Extended Thinking Mode"));
      assert.ok(thinking >= 0 && truncation > thinking);
      assert.ok(content.endsWith("\n\nHi"));
    },
  );

  await t.step("a block without a system prompt loses its leading separator", () => {
    const config = defaultConfig({ fakeReasoning: false, truncationRecovery: true });
    const payload = build(chat([user("Hi")]), config);
    assert.ok(current(payload).content.startsWith("# Output Truncation Handling\n"));
  });

  await t.step("with history it goes into the first user entry only", () => {
    const payload = build(chat([user("one"), assistant("two"), user("three")], { system: "S" }));
    const first = payload.conversationState.history?.[0];
    assert.ok(first && "userInputMessage" in first);
    assert.equal(first.userInputMessage.content, "S\n\none");
    assert.equal(current(payload).content, "three");
  });
});

Deno.test("the builder injects thinking tags into the current message only", async (t) => {
  const on = defaultConfig({ fakeReasoning: true, truncationRecovery: false });
  const thinking = { enabled: true, budgetTokens: 3000 };

  await t.step("disabled globally leaves the content alone", () => {
    assert.equal(current(build(chat([user("Hi")], { thinking }), PLAIN)).content, "Hi");
  });

  await t.step("disabled by the client leaves the content alone", () => {
    assert.ok(!current(build(chat([user("Hi")]), on)).content.startsWith("<thinking_mode>"));
  });

  for (const text of ["Hi", "line one\nline two", '<b>&"special"</b>']) {
    await t.step(`enabled puts the tags first and keeps ${JSON.stringify(text)} exactly`, () => {
      const content =
        current(build(chat([user("a"), assistant("b"), user(text)], { thinking }), on)).content;
      assert.equal(content, thinkingPrefix(3000) + text);
      assert.match(
        content,
        /^<thinking_mode>enabled<\/thinking_mode>\n<max_thinking_length>3000<\/max_thinking_length>\n<thinking_instruction>[^<]+<\/thinking_instruction>\n\n/,
      );
    });
  }

  await t.step("an empty text gets the placeholder after the tags", () => {
    const content =
      current(build(chat([user("a"), assistant("b"), user("")], { thinking }), on)).content;
    assert.equal(content, thinkingPrefix(3000) + EMPTY_PLACEHOLDER);
  });

  await t.step("tags come before a system prompt placed in the current message", () => {
    const content = current(build(chat([user("Hi")], { thinking, system: "S" }), on)).content;
    assert.ok(content.startsWith(`${thinkingPrefix(3000)}S\n\n---\n# Extended Thinking Mode`));
    assert.ok(content.endsWith("\n\nHi"));
  });

  await t.step("tags are injected when the message carries tool results, and images stay", () => {
    const payload = build(
      chat([
        user("a"),
        assistant("", [call("c1")]),
        user("", { toolResults: [result("c1")], images: [{ mediaType: "image/png", data: "P" }] }),
      ], { thinking, tools: [BASH] }),
      on,
    );
    assert.ok(current(payload).content.startsWith("<thinking_mode>enabled</thinking_mode>"));
    assert.equal(current(payload).userInputMessageContext?.toolResults?.length, 1);
    assert.deepEqual(current(payload).images, [{ format: "png", source: { bytes: "P" } }]);
    const history = JSON.stringify(payload.conversationState.history);
    assert.ok(!history.includes("<thinking_mode>enabled</thinking_mode>"));
  });
});

Deno.test("toKiroImage builds Kiro's image form", async (t) => {
  const cases: [string, { mediaType: string; data: string }, unknown][] = [
    ["a png", { mediaType: "image/png", data: "abc123" }, {
      format: "png",
      source: { bytes: "abc123" },
    }],
    [
      "a data URL in the data wins",
      { mediaType: "image/png", data: "data:image/gif;base64,R0lG" },
      { format: "gif", source: { bytes: "R0lG" } },
    ],
    ["no media type means jpeg", { mediaType: "", data: "xyz" }, {
      format: "jpeg",
      source: { bytes: "xyz" },
    }],
    ["a media type without a slash is the format", { mediaType: "webp", data: "w" }, {
      format: "webp",
      source: { bytes: "w" },
    }],
    ["empty data is dropped", { mediaType: "image/png", data: "" }, undefined],
    ["a data URL without data is dropped", {
      mediaType: "image/png",
      data: "data:image/png;base64,",
    }, undefined],
  ];
  for (const [name, image, expected] of cases) {
    await t.step(name, () => assert.deepEqual(toKiroImage(image), expected));
  }
});

Deno.test("the builder tells the model about remembered truncations once", () => {
  const config = defaultConfig({ fakeReasoning: false, truncationRecovery: true });
  const store = new TruncationStore();
  store.rememberText("A very long essay");
  store.rememberTool("c1", { name: "Write", reason: "unterminated string", sizeBytes: 9000 });
  const request = chat([
    user("Write an essay"),
    assistant("A very long essay"),
    user("Now save it"),
    assistant("", [call("c1", "Write", {})]),
    user("", { toolResults: [result("c1", "Error: missing content")] }),
  ], { tools: [{ ...BASH, name: "Write" }] });
  const payload = build(request, config, store);
  const history = payload.conversationState.history ?? [];
  const afterEssay = history[2];
  assert.ok(afterEssay && "userInputMessage" in afterEssay);
  assert.match(afterEssay.userInputMessage.content, /^\[System Notice\] .+\nNow save it$/s);
  const text = current(payload).userInputMessageContext?.toolResults?.[0]?.content[0]?.text ?? "";
  assert.match(text, /^\[API Limitation\] .*"Write".*9000 bytes/s);
  assert.ok(text.endsWith("\n\n---\n\nOriginal tool result:\nError: missing content"));
  assertValidPayload(payload);

  const again = build(request, config, store);
  assert.ok(!JSON.stringify(again).includes("[System Notice] Your"), "notices are one-shot");
  assert.ok(!JSON.stringify(again).includes("[API Limitation] The"));
});

Deno.test("the builder ignores the truncation store when recovery is off", () => {
  const store = new TruncationStore();
  store.rememberText("cut");
  const payload = build(chat([user("a"), assistant("cut"), user("b")]), PLAIN, store);
  assert.ok(!JSON.stringify(payload).includes("[System Notice] Your"));
  assert.equal(store.takeText("cut"), true, "the entry is left for later");
});

Deno.test("the builder sets the top-level fields and the model on every user entry", () => {
  const payload = build(chat([user("a"), assistant("b"), user("c")]));
  assert.equal(payload.profileArn, ARN);
  assert.equal(payload.conversationState.chatTriggerType, "MANUAL");
  assert.equal(payload.conversationState.conversationId, CONVERSATION_ID);
  for (const entry of payload.conversationState.history ?? []) {
    if ("userInputMessage" in entry) {
      assert.equal(entry.userInputMessage.modelId, "claude-sonnet-4.5");
      assert.equal(entry.userInputMessage.origin, "AI_EDITOR");
    }
  }
  assert.equal(current(payload).modelId, "claude-sonnet-4.5");
  const noArn = buildKiroRequest(chat([user("a")]), {
    modelId: "m",
    profileArn: "",
    conversationId: "id",
    config: PLAIN,
  }).payload;
  assert.equal("profileArn" in noArn, false);
});

Deno.test("the builder does not change the ChatRequest it is given", () => {
  const request = structuredClone(WORKED_EXAMPLE);
  const store = new TruncationStore();
  store.rememberTool("call_9", { name: "bash", reason: "cut", sizeBytes: 1 });
  build(request, defaultConfig(), store);
  assert.deepEqual(request, WORKED_EXAMPLE);
});

Deno.test("withTruncationNotices applies the notices once so retries can rebuild", () => {
  const store = new TruncationStore();
  store.rememberText("cut short");
  store.rememberTool("c1", { name: "bash", reason: "unterminated string", sizeBytes: 10 });
  const request = chat([
    user("a"),
    assistant("cut short"),
    user("b"),
    assistant("", [call("c1")]),
    user("", { toolResults: [result("c1", "failed")] }),
  ], { tools: [BASH] });
  const noticed = withTruncationNotices(request, store);
  assert.equal(noticed.messages.length, 6);
  assert.match(noticed.messages[2]?.text ?? "", /^\[System Notice\] /);
  assert.match(
    noticed.messages[5]?.toolResults[0]?.content ?? "",
    /^\[API Limitation\] [^]*failed$/,
  );
  assert.equal(request.messages.length, 5, "the original request is not changed");
  assert.equal(request.messages[4]?.toolResults[0]?.content, "failed");
  const first = build(noticed, PLAIN);
  const retry = build(noticed, PLAIN);
  assert.deepEqual(retry, first, "every attempt sends the same notices");
  assert.ok(JSON.stringify(first).includes("[System Notice] Your"));
});

Deno.test("the builder asks models with reasoning fields natively", async (t) => {
  const fields = {
    thinking: { type: "adaptive", display: "summarized" },
    output_config: { effort: "high" },
  };
  const signed: ChatMessage = {
    ...assistant("Hello."),
    reasoning: { type: "text", text: "Greet back.", signature: "KIRO-SIG" },
  };
  const redacted: ChatMessage = {
    ...assistant("Sure.", [call("c1")]),
    reasoning: { type: "redacted", data: "UkVE" },
  };
  const conversation = chat(
    [
      user("Hi"),
      signed,
      user("Run ls"),
      redacted,
      user("", { toolResults: [result("c1")] }),
    ],
    { system: "Be brief.", tools: [BASH], thinking: { enabled: true, budgetTokens: 4000 } },
  );
  const on = defaultConfig({ fakeReasoning: true, truncationRecovery: false });
  const nativePayload = (request: ChatRequest) =>
    buildKiroRequest(request, {
      modelId: "claude-opus-4.6",
      profileArn: ARN,
      conversationId: CONVERSATION_ID,
      config: on,
      reasoningFields: fields,
    }).payload;

  await t.step("the fields go top level, without thinking tags or their system block", () => {
    const payload = nativePayload(conversation);
    assert.deepEqual(payload.additionalModelRequestFields, fields);
    const history = payload.conversationState.history ?? [];
    const firstUser = history[0] as { userInputMessage: { content: string } };
    assert.doesNotMatch(firstUser.userInputMessage.content, /Extended Thinking Mode/);
    assert.doesNotMatch(current(payload).content, /thinking_mode/);
    assertValidPayload(payload);
  });

  await t.step("signed and redacted reasoning go back on their history entries", () => {
    const history = nativePayload(conversation).conversationState.history ?? [];
    assert.deepEqual(history[1], {
      assistantResponseMessage: {
        content: "Hello.",
        reasoningContent: { reasoningText: { text: "Greet back.", signature: "KIRO-SIG" } },
      },
    });
    const toolTurn = history[3] as { assistantResponseMessage: { reasoningContent?: unknown } };
    assert.deepEqual(toolTurn.assistantResponseMessage.reasoningContent, {
      redactedContent: "UkVE",
    });
  });

  await t.step("without the fields, reasoning is never sent and tags are used", () => {
    const payload = build(conversation, on);
    assert.equal(payload.additionalModelRequestFields, undefined);
    const entries = (payload.conversationState.history ?? []).map((entry) => JSON.stringify(entry));
    assert.ok(entries.every((entry) => !entry.includes("reasoningContent")));
    assert.match(current(payload).content, /^<thinking_mode>enabled<\/thinking_mode>/);
  });
});

Deno.test("the builder carries client intents as system prompt instructions", async (t) => {
  await t.step("a JSON schema is quoted whole, after the other blocks", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"] };
    const config = defaultConfig({ fakeReasoning: false, truncationRecovery: true });
    const content = current(build(
      chat([user("Hi")], {
        system: "Be nice.",
        responseFormat: { type: "json_schema", name: "answer", schema, description: "The reply" },
      }),
      config,
    )).content;
    assert.ok(content.indexOf("# Output Truncation Handling") < content.indexOf("# Response"));
    assert.ok(content.includes("no Markdown code fence"));
    assert.ok(content.includes("What the JSON describes: The reply"));
    assert.ok(
      content.includes(`<json_schema name="answer">\n${JSON.stringify(schema)}\n</json_schema>`),
    );
  });

  await t.step("json_object asks for one JSON object", () => {
    const content = current(build(chat([user("Hi")], { responseFormat: { type: "json_object" } })))
      .content;
    assert.ok(content.startsWith("# Response Format\n\n"), content);
    assert.ok(content.includes("Answer with one JSON object only"));
  });

  await t.step("a named tool is named as Kiro knows it", () => {
    const long = { ...BASH, name: `mcp__server__${"x".repeat(70)}` };
    const content = current(build(
      chat([user("Hi")], { tools: [long], toolChoice: { type: "tool", name: long.name } }),
    )).content;
    const name = /calling the tool "([^"]+)"/.exec(content)?.[1] ?? "";
    assert.ok(name.length <= 64 && name.startsWith("mcp__server__"), name);
  });

  await t.step("a forced choice that no tool can meet adds nothing", () => {
    for (
      const request of [
        chat([user("Hi")], { toolChoice: { type: "any" } }),
        chat([user("Hi")], { tools: [BASH], toolChoice: { type: "tool", name: "nope" } }),
      ]
    ) {
      assert.equal(current(build(request)).content, "Hi");
    }
  });
});
