import assert from "node:assert/strict";
import type { ChatEvent, StopReason, Usage } from "../../src/core/chat.ts";
import {
  ReplyEventStream,
  type ReplyEventStreamOptions,
  type TruncatedToolInfo,
} from "../../src/core/reply.ts";
import { type ClaudeTally, TokenCounter } from "../../src/core/tokens.ts";
import { diagnoseToolArguments, toToolArguments } from "../../src/core/tool_args.ts";
import type { KiroEvent } from "../../src/kiro/events.ts";
import { collect, streamOf, within } from "../helpers.ts";

/** Counts one output token per character, so expected usage is easy to state. */
class CharCounter extends TokenCounter {
  override countClaude(text: string): number {
    return text.length;
  }

  override tally(): ClaudeTally {
    let count = 0;
    return { add: (text) => void (count += text.length), tokens: () => count };
  }
}

class RecordingMemory {
  texts: string[] = [];
  tools: [string, TruncatedToolInfo][] = [];
  rememberText(text: string): void {
    this.texts.push(text);
  }
  rememberTool(id: string, info: TruncatedToolInfo): void {
    this.tools.push([id, info]);
  }
}

const DONE: KiroEvent[] = [{ type: "context_usage", percentage: 0 }];

function run(
  events: KiroEvent[],
  options: Partial<ReplyEventStreamOptions> = {},
): Promise<ChatEvent[]> {
  const stream = new ReplyEventStream({
    counter: new CharCounter(),
    estimateInputTokens: () => 42,
    ...options,
  });
  return collect(streamOf(events).pipeThrough(stream));
}

function toolEvents(id: string, name: string, fragments: string[]): KiroEvent[] {
  return [
    { type: "tool_start", toolUseId: id, name },
    ...fragments.map((input): KiroEvent => ({ type: "tool_input", toolUseId: id, name, input })),
    { type: "tool_stop", toolUseId: id, name },
  ];
}

function endOf(events: ChatEvent[]): { stopReason: StopReason; usage: Usage } {
  const last = events.at(-1);
  assert.ok(last?.type === "end", "the last event is end");
  return { stopReason: last.stopReason, usage: last.usage };
}

function textOf(events: ChatEvent[]): string {
  return events.map((e) => (e.type === "text" ? e.text : "")).join("");
}

function toolCallsOf(events: ChatEvent[]) {
  return events.filter((e) => e.type === "tool_call");
}

Deno.test("ReplyEventStream forwards each text delta before the next one arrives", async () => {
  const stream = new ReplyEventStream({
    counter: new CharCounter(),
    estimateInputTokens: () => 0,
  });
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  void writer.write({ type: "text", text: "Hel" });
  assert.deepEqual(await within(reader.read()), {
    done: false,
    value: { type: "text", text: "Hel" },
  });
  void writer.write({ type: "text", text: "lo" });
  assert.deepEqual(await within(reader.read()), {
    done: false,
    value: { type: "text", text: "lo" },
  });
  await writer.close();
  assert.equal((await reader.read()).value?.type, "end");
  assert.equal((await reader.read()).done, true);
});

Deno.test("ReplyEventStream passes native reasoning on as reasoning events", async () => {
  const out = await run([
    { type: "reasoning", text: "Let me see." },
    { type: "reasoning", text: "", signature: "sig" },
    { type: "text", text: "Yes." },
    ...DONE,
  ]);
  assert.deepEqual(out.slice(0, 3), [
    { type: "reasoning", text: "Let me see." },
    { type: "reasoning_signature", signature: "kgw1.sig.sig" },
    { type: "text", text: "Yes." },
  ]);
  assert.equal(endOf(out).usage.outputTokens, "Yes.Let me see.".length);
});

Deno.test("ReplyEventStream assembles tool calls", async (t) => {
  const args = '{"path": "src/ü.ts", "content": "line \\"one\\"\\nline {two}"}';
  await t.step("from one fragment per character, delivering the text as received", async () => {
    const out = await run([...toolEvents("tooluse_a", "Write", [...args]), ...DONE]);
    assert.deepEqual(toolCallsOf(out), [
      { type: "tool_call", id: "tooluse_a", name: "Write", arguments: args },
    ]);
    assert.equal(endOf(out).stopReason, "tool_use");
  });

  await t.step("from fragments cut at every offset, with an empty first fragment", async () => {
    for (let cut = 0; cut <= args.length; cut++) {
      const fragments = ["", args.slice(0, cut), args.slice(cut)];
      const out = await run([...toolEvents("tooluse_a", "Write", fragments), ...DONE]);
      assert.equal(toolCallsOf(out)[0]?.arguments, args, `cut at ${cut}`);
    }
  });

  await t.step("two sequential calls, in order, after the text", async () => {
    const out = await run([
      { type: "text", text: "Checking." },
      ...toolEvents("tooluse_1", "bash", ['{"cmd": ', '"ls"}']),
      ...toolEvents("tooluse_2", "read", ['{"path": "a"}']),
      ...DONE,
    ]);
    assert.deepEqual(out.slice(0, 3), [
      { type: "text", text: "Checking." },
      { type: "tool_call", id: "tooluse_1", name: "bash", arguments: '{"cmd": "ls"}' },
      { type: "tool_call", id: "tooluse_2", name: "read", arguments: '{"path": "a"}' },
    ]);
    assert.equal(endOf(out).stopReason, "tool_use");
  });

  await t.step("a repeated start frame neither resets nor doubles the call", async () => {
    const out = await run([
      { type: "tool_start", toolUseId: "tooluse_r", name: "bash" },
      { type: "tool_input", toolUseId: "tooluse_r", name: "bash", input: '{"cmd":' },
      { type: "tool_start", toolUseId: "tooluse_r", name: "bash" },
      { type: "tool_input", toolUseId: "tooluse_r", name: "bash", input: '"pwd"}' },
      { type: "tool_stop", toolUseId: "tooluse_r", name: "bash" },
      ...DONE,
    ]);
    assert.deepEqual(toolCallsOf(out), [
      { type: "tool_call", id: "tooluse_r", name: "bash", arguments: '{"cmd":"pwd"}' },
    ]);
  });

  await t.step("a call repeated under the same id after its stop is delivered once", async () => {
    const out = await run([
      ...toolEvents("tooluse_d", "bash", ['{"cmd": "ls"}']),
      ...toolEvents("tooluse_d", "bash", ['{"cmd": "ls -la"}']),
      { type: "tool_stop", toolUseId: "tooluse_d", name: "bash" },
      ...DONE,
    ]);
    assert.equal(toolCallsOf(out).length, 1);
  });

  await t.step("blank arguments become an empty object", async () => {
    const out = await run([...toolEvents("tooluse_e", "now", ["", "  "]), ...DONE]);
    assert.equal(toolCallsOf(out)[0]?.arguments, "{}");
  });

  await t.step("a call still open at the end of input is finished there", async () => {
    const out = await run([
      { type: "tool_start", toolUseId: "tooluse_o", name: "bash" },
      { type: "tool_input", toolUseId: "tooluse_o", name: "bash", input: '{"cmd": "ls"}' },
    ]);
    assert.equal(toolCallsOf(out)[0]?.arguments, '{"cmd": "ls"}');
    assert.equal(endOf(out).stopReason, "tool_use");
  });

  await t.step("Kiro tool names are mapped back to the client's names", async () => {
    const out = await run([...toolEvents("tooluse_n", "t_0", ["{}"]), ...DONE], {
      toolNames: { fromKiro: (name) => (name === "t_0" ? "mcp__server__long_name" : name) },
    });
    assert.equal(toolCallsOf(out)[0]?.name, "mcp__server__long_name");
  });

  await t.step("double-encoded object arguments are unwrapped", async () => {
    const out = await run([
      ...toolEvents("tooluse_s", "bash", ['"{\\"cmd\\": \\"ls\\"}"']),
      ...DONE,
    ]);
    assert.equal(toolCallsOf(out)[0]?.arguments, '{"cmd": "ls"}');
  });
});

Deno.test("ReplyEventStream replaces a cut-off tool call with a notice and remembers it", async () => {
  const memory = new RecordingMemory();
  const content = "x".repeat(300);
  const cutArgs = `{"file_path": "/tmp/a.txt", "content": "${content}`;
  const out = await run(
    [
      { type: "text", text: "Writing the file." },
      ...toolEvents("tooluse_w", "Write", [cutArgs.slice(0, 100), cutArgs.slice(100)]),
      ...DONE,
    ],
    { truncation: memory },
  );
  assert.deepEqual(toolCallsOf(out), [], "no tool call is delivered");
  const size = new TextEncoder().encode(cutArgs).byteLength;
  const notice = out[1];
  assert.ok(notice?.type === "text");
  assert.match(notice.text, /^\n\n\[Kiro Gateway: the call to tool "Write" was cut off/);
  assert.ok(notice.text.includes(`${size} bytes`));
  assert.equal(endOf(out).stopReason, "max_tokens");
  assert.deepEqual(memory.tools, [
    ["tooluse_w", {
      name: "Write",
      truncated: true,
      reason: "missing 1 closing brace(s)",
      sizeBytes: size,
    }],
  ]);
  assert.deepEqual(memory.texts, [textOf(out)]);
  assert.equal(endOf(out).usage.outputTokens, "Writing the file.".length, "notices are not output");
});

Deno.test("ReplyEventStream refuses non-object or malformed arguments without a cut", async (t) => {
  for (const input of ["[1, 2]", "42", "null", '"plain"', '{"a": x}']) {
    await t.step(input, async () => {
      const memory = new RecordingMemory();
      const out = await run([...toolEvents("tooluse_x", "bash", [input]), ...DONE], {
        truncation: memory,
      });
      assert.deepEqual(toolCallsOf(out), []);
      assert.match(textOf(out), /^\[Kiro Gateway: the call to tool "bash" was not delivered/);
      assert.equal(endOf(out).stopReason, "end_turn");
      assert.deepEqual(memory.tools, []);
    });
  }
});

Deno.test("ReplyEventStream settles the stop reason", async (t) => {
  const cases: { name: string; events: KiroEvent[]; stop: StopReason; remembered: boolean }[] = [
    {
      name: "text without any completion signal is cut off",
      events: [{ type: "text", text: "Half an ans" }],
      stop: "max_tokens",
      remembered: true,
    },
    {
      name: "text with context usage ended normally",
      events: [{ type: "text", text: "Done." }, { type: "context_usage", percentage: 3 }],
      stop: "end_turn",
      remembered: false,
    },
    {
      name: "text with a metering event only ended normally",
      events: [{ type: "text", text: "Done." }, { type: "metering", credits: 0.1 }],
      stop: "end_turn",
      remembered: false,
    },
    {
      name: "a tool call without completion signals still asks for the tool",
      events: [{ type: "text", text: "Run." }, ...toolEvents("tooluse_1", "bash", ["{}"])],
      stop: "tool_use",
      remembered: false,
    },
    {
      name: "an empty reply without signals ended normally",
      events: [],
      stop: "end_turn",
      remembered: false,
    },
    {
      name: "a metadata max-tokens stop reason wins over the signals",
      events: [
        { type: "text", text: "Long" },
        { type: "metadata", stopReason: "MAX_TOKENS" },
        { type: "context_usage", percentage: 3 },
      ],
      stop: "max_tokens",
      remembered: true,
    },
    {
      name: "a metadata end-turn stop reason counts as a completion signal",
      events: [{ type: "text", text: "Fine" }, { type: "metadata", stopReason: "end_turn" }],
      stop: "end_turn",
      remembered: false,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const memory = new RecordingMemory();
      const out = await run(c.events, { truncation: memory });
      assert.equal(endOf(out).stopReason, c.stop);
      assert.deepEqual(memory.texts, c.remembered ? [textOf(out)] : []);
    });
  }
});

Deno.test("ReplyEventStream reports the client's input estimate unless Kiro counts", async (t) => {
  const cases = [
    { name: "context usage is not turned into input tokens", percentage: 10, output: 100 },
    { name: "a zero percentage changes nothing", percentage: 0, output: 7 },
    { name: "no context usage at all", percentage: undefined, output: 7 },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const events: KiroEvent[] = [{ type: "text", text: "x".repeat(c.output) }];
      if (c.percentage !== undefined) {
        events.push({ type: "context_usage", percentage: c.percentage });
      }
      const out = await run(events);
      assert.deepEqual(endOf(out).usage, { inputTokens: 42, outputTokens: c.output });
    });
  }

  await t.step("metadata token counts replace the estimates", async () => {
    const out = await run([
      { type: "text", text: "abc" },
      { type: "metadata", inputTokens: 1234, outputTokens: 56 },
      { type: "context_usage", percentage: 50 },
    ]);
    assert.deepEqual(endOf(out).usage, { inputTokens: 1234, outputTokens: 56 });
  });

  await t.step(
    "cache counts of metadata add up to the input and fill the cache fields",
    async () => {
      const out = await run([
        { type: "text", text: "abc" },
        {
          type: "metadata",
          uncachedInputTokens: 100,
          cacheReadInputTokens: 900,
          cacheWriteInputTokens: 50,
          outputTokens: 12,
        },
      ]);
      assert.deepEqual(endOf(out).usage, {
        inputTokens: 1050,
        outputTokens: 12,
        cacheReadInputTokens: 900,
        cacheCreationInputTokens: 50,
      });
    },
  );

  await t.step("a metadata cache count alone sets the other cache field to 0", async () => {
    const out = await run([{ type: "metadata", cacheReadInputTokens: 30, uncachedInputTokens: 5 }]);
    assert.deepEqual(endOf(out).usage, {
      inputTokens: 35,
      outputTokens: 0,
      cacheReadInputTokens: 30,
      cacheCreationInputTokens: 0,
    });
  });

  await t.step("reasoning counts toward output and is reported apart", async () => {
    const out = await run([
      { type: "reasoning", text: "r".repeat(20) },
      { type: "text", text: "t".repeat(10) },
    ]);
    assert.deepEqual(endOf(out).usage, { inputTokens: 42, outputTokens: 30, reasoningTokens: 20 });
  });

  await t.step("reasoning tokens never exceed Kiro's output count", async () => {
    const out = await run([
      { type: "reasoning", text: "r".repeat(20) },
      { type: "metadata", outputTokens: 8 },
    ]);
    assert.deepEqual(endOf(out).usage, { inputTokens: 42, outputTokens: 8, reasoningTokens: 8 });
  });
});

Deno.test("ReplyEventStream turns native reasoning into reasoning events", async (t) => {
  await t.step("text pieces, then the signature marked as the gateway's", async () => {
    const out = await run([
      { type: "reasoning", text: "Let me " },
      { type: "reasoning", text: "think." },
      { type: "reasoning", text: "", signature: "SIG==" },
      { type: "text", text: "Answer" },
      ...DONE,
    ]);
    assert.deepEqual(out.slice(0, -1), [
      { type: "reasoning", text: "Let me " },
      { type: "reasoning", text: "think." },
      { type: "reasoning_signature", signature: "kgw1.sig.SIG==" },
      { type: "text", text: "Answer" },
    ]);
  });

  await t.step("text and signature in one event keep their order", async () => {
    const out = await run([{ type: "reasoning", text: "Hmm.", signature: "S" }, ...DONE]);
    assert.deepEqual(out.slice(0, -1), [
      { type: "reasoning", text: "Hmm." },
      { type: "reasoning_signature", signature: "kgw1.sig.S" },
    ]);
  });

  await t.step("redacted content becomes one marked event", async () => {
    const out = await run([{ type: "reasoning", text: "", redacted: "QUJD" }, ...DONE]);
    assert.deepEqual(out.slice(0, -1), [{ type: "redacted_reasoning", data: "kgw1.red.QUJD" }]);
  });
});

Deno.test("ReplyEventStream reports credits and cache tokens from metering", async (t) => {
  await t.step("credits of several metering events add up", async () => {
    const out = await run([
      { type: "metering", credits: 0.1 },
      { type: "metering", credits: 0.2, cacheReadInputTokens: 100, cacheCreationInputTokens: 5 },
    ]);
    assert.deepEqual(endOf(out).usage, {
      inputTokens: 42,
      outputTokens: 0,
      credits: 0.3,
      cacheReadInputTokens: 100,
      cacheCreationInputTokens: 5,
    });
  });
  await t.step("no metering leaves credits and cache fields out", async () => {
    const usage = endOf(await run(DONE)).usage;
    assert.deepEqual(Object.keys(usage).sort(), ["inputTokens", "outputTokens"]);
  });
});

Deno.test("diagnoseToolArguments tells cut-off arguments from malformed ones", async (t) => {
  const cases = [
    { input: "", truncated: false, reason: /^empty string$/, size: 0 },
    { input: "  \n ", truncated: false, reason: /^empty string$/, size: 0 },
    { input: '{"key": "value"}', truncated: false, reason: /^malformed JSON$/, size: 16 },
    { input: '{"a": {"b": 1', truncated: true, reason: /^missing 2 closing brace\(s\)$/, size: 13 },
    { input: "[1, [2, 3", truncated: true, reason: /^missing 2 closing bracket\(s\)$/, size: 9 },
    {
      input: '{"a": 1}}',
      truncated: true,
      reason: /^unbalanced braces \(1 open, 2 close\)$/,
      size: 9,
    },
    {
      input: '{"a": [1}',
      truncated: true,
      reason: /^unbalanced brackets \(1 open, 0 close\)$/,
      size: 9,
    },
    { input: '"abc', truncated: true, reason: /^unclosed string literal$/, size: 4 },
    { input: '{"a": "}', truncated: true, reason: /unbalanced braces/, size: 8 },
    { input: '{"a": x}', truncated: false, reason: /^malformed JSON$/, size: 8 },
    { input: '{"ü": "€', truncated: true, reason: /brace/, size: 11 },
  ];
  for (const c of cases) {
    await t.step(JSON.stringify(c.input), () => {
      const d = diagnoseToolArguments(c.input);
      assert.equal(d.truncated, c.truncated);
      assert.match(d.reason, c.reason);
      assert.equal(d.sizeBytes, c.size);
    });
  }
});

Deno.test("toToolArguments keeps object text as received and refuses everything else", () => {
  assert.deepEqual(toToolArguments(' {"a":  1} \n'), { ok: true, arguments: '{"a":  1}' });
  assert.deepEqual(toToolArguments(""), { ok: true, arguments: "{}" });
  const refused = toToolArguments("[1]");
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok && refused.diagnosis.reason === "not a JSON object (got an array)");
});

Deno.test("a call the model wrote as text to a declared tool becomes a tool call", async (t) => {
  const written = 'I will check. [Called get_weather with args: {"city": "Oslo"}]';
  await t.step("declared: delivered after the text, stop reason tool_use", async () => {
    const events = await run([{ type: "text", text: written }, ...DONE], {
      declaredTools: new Set(["get_weather"]),
    });
    const [call] = toolCallsOf(events);
    assert.ok(call?.type === "tool_call");
    assert.equal(call.name, "get_weather");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Oslo" });
    assert.match(call.id, /^call_[0-9a-f]{8}$/);
    assert.equal(endOf(events).stopReason, "tool_use");
  });
  await t.step("not declared, or no tools known: left as text only", async () => {
    for (const declaredTools of [new Set(["other"]), undefined]) {
      const events = await run([{ type: "text", text: written }, ...DONE], { declaredTools });
      assert.deepEqual(toolCallsOf(events), []);
      assert.equal(endOf(events).stopReason, "end_turn");
    }
  });
  await t.step("the same call also made through the tool channel is not doubled", async () => {
    const events = await run([
      { type: "text", text: written },
      ...toolEvents("tooluse_1", "get_weather", ['{"city":"Oslo"}']),
      ...DONE,
    ], { declaredTools: new Set(["get_weather"]) });
    assert.deepEqual(toolCallsOf(events).map((e) => e.type === "tool_call" && e.id), [
      "tooluse_1",
    ]);
  });
});
