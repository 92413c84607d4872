import assert from "node:assert/strict";
import fc from "fast-check";
import type { ReasoningHandling } from "../../src/config.ts";
import type { ChatEvent } from "../../src/core/chat.ts";
import {
  THINKING_HOLD_BACK_CHARS,
  THINKING_OPEN_TAGS,
  ThinkingSplitStream,
} from "../../src/core/thinking.ts";
import { collect, streamOf, within } from "../helpers.ts";

const MODES: ReasoningHandling[] = ["as_reasoning_content", "remove", "pass", "strip_tags"];
const END: ChatEvent = {
  type: "end",
  stopReason: "end_turn",
  usage: { inputTokens: 1, outputTokens: 1 },
};

function splitter(handling: ReasoningHandling = "as_reasoning_content", initialBufferSize = 20) {
  return new ThinkingSplitStream({ enabled: true, handling, initialBufferSize });
}

function run(
  chunks: (string | ChatEvent)[],
  handling?: ReasoningHandling,
  initialBufferSize?: number,
): Promise<ChatEvent[]> {
  const events = chunks.map((
    c,
  ): ChatEvent => (typeof c === "string" ? { type: "text", text: c } : c));
  return collect(streamOf(events).pipeThrough(splitter(handling, initialBufferSize)));
}

async function channels(
  chunks: string[],
  handling?: ReasoningHandling,
  initialBufferSize?: number,
): Promise<{ text: string; reasoning: string }> {
  const out = await run(chunks, handling, initialBufferSize);
  for (const e of out) {
    assert.ok(
      (e.type === "text" || e.type === "reasoning") && e.text.length > 0,
      "no empty deltas",
    );
  }
  return {
    text: out.map((e) => (e.type === "text" ? e.text : "")).join(""),
    reasoning: out.map((e) => (e.type === "reasoning" ? e.text : "")).join(""),
  };
}

/** Reads what the stream emits right after one write, bounded so a held-back write fails. */
async function emittedAfter(
  stream: ThinkingSplitStream,
  reader: ReadableStreamDefaultReader<ChatEvent>,
  text: string,
): Promise<ChatEvent | undefined> {
  const read = reader.read();
  const writer = stream.writable.getWriter();
  const written = writer.write({ type: "text", text });
  writer.releaseLock();
  const result = await within(read, 1000, "read");
  await written;
  return result.value;
}

function closeOf(tag: string): string {
  return `</${tag.slice(1)}`;
}

Deno.test("ThinkingSplitStream holds back twice the longest open tag", () => {
  assert.equal(THINKING_HOLD_BACK_CHARS, 2 * "<reasoning>".length);
});

Deno.test("ThinkingSplitStream follows the parser cases of the reference", async (t) => {
  const cases: {
    name: string;
    chunks: string[];
    text: string;
    reasoning: string;
    limit?: number;
  }[] = [
    ...THINKING_OPEN_TAGS.map((tag) => ({
      name: `${tag} at the start opens a block`,
      chunks: [`${tag}plan${closeOf(tag)}answer`],
      text: "answer",
      reasoning: "plan",
    })),
    {
      name: "leading whitespace before the tag is allowed",
      chunks: ["\n  <thinking>plan</thinking>answer"],
      text: "answer",
      reasoning: "plan",
    },
    {
      name: "an open tag completed by the next chunk opens the block",
      chunks: ["<think", "ing>Hello"],
      text: "",
      reasoning: "Hello",
    },
    {
      name: "text that cannot start a tag is text",
      chunks: ["Hello ", "<thinking>"],
      text: "Hello <thinking>",
      reasoning: "",
    },
    {
      name: "whitespace after the close tag is stripped",
      chunks: ["<thinking>plan</thinking>\n\nRegular content"],
      text: "Regular content",
      reasoning: "plan",
    },
    {
      name: "whitespace after the close tag is stripped across chunks",
      chunks: ["<thinking>plan</thinking>", "\n", " \n", "Regular content"],
      text: "Regular content",
      reasoning: "plan",
    },
    {
      name: "a close tag split across two chunks is found",
      chunks: ["<thinking>plan</thi", "nking>answer"],
      text: "answer",
      reasoning: "plan",
    },
    {
      name: "tags after the block are plain text",
      chunks: ["<thinking>a</thinking>b <thinking>c</thinking>"],
      text: "b <thinking>c</thinking>",
      reasoning: "a",
    },
    {
      name: "a tag in the middle of the text is plain text",
      chunks: ["Some text <thinking>x</thinking>"],
      text: "Some text <thinking>x</thinking>",
      reasoning: "",
    },
    {
      name: "an empty block yields only the answer",
      chunks: ["<thinking></thinking>Answer"],
      text: "Answer",
      reasoning: "",
    },
    {
      name: "an unclosed block is flushed as thinking at the end",
      chunks: ["<thinking>still thinking about ", "it"],
      text: "",
      reasoning: "still thinking about it",
    },
    {
      name: "an undecided start is flushed as text at the end",
      chunks: ["  <thi"],
      text: "  <thi",
      reasoning: "",
    },
    {
      name: "leading whitespace beyond the initial buffer size makes the reply plain text",
      chunks: [" ".repeat(11), "<thinking>x</thinking>"],
      text: `${" ".repeat(11)}<thinking>x</thinking>`,
      reasoning: "",
      limit: 10,
    },
    {
      name: "leading whitespace within the initial buffer size still allows a block",
      chunks: [" ".repeat(10), "<thinking>x</thinking>y"],
      text: "y",
      reasoning: "x",
      limit: 10,
    },
    { name: "no input yields nothing", chunks: [], text: "", reasoning: "" },
    { name: "empty deltas yield nothing", chunks: ["", ""], text: "", reasoning: "" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const got = await channels(c.chunks, "as_reasoning_content", c.limit);
      assert.deepEqual(got, { text: c.text, reasoning: c.reasoning });
    });
  }
});

Deno.test("ThinkingSplitStream delivers thinking as each handling mode asks", async (t) => {
  const input = ["<think>pl", "an</th", "ink>\nanswer"];
  const expected: Record<ReasoningHandling, { text: string; reasoning: string }> = {
    as_reasoning_content: { text: "answer", reasoning: "plan" },
    remove: { text: "answer", reasoning: "" },
    pass: { text: "<think>plan</think>answer", reasoning: "" },
    strip_tags: { text: "plananswer", reasoning: "" },
  };
  for (const mode of MODES) {
    await t.step(mode, async () => {
      assert.deepEqual(await channels(input, mode), expected[mode]);
    });
  }

  await t.step("pass closes a block that was never closed", async () => {
    assert.deepEqual(await channels(["<thinking>", "abc"], "pass"), {
      text: "<thinking>abc</thinking>",
      reasoning: "",
    });
  });

  await t.step("pass adds the close tag even when the last piece is empty", async () => {
    const long = "x".repeat(40);
    assert.deepEqual(await channels([`<thinking>${long}`, "</thinking>"], "pass"), {
      text: `<thinking>${long}</thinking>`,
      reasoning: "",
    });
  });

  await t.step("pass shows nothing for an empty block", async () => {
    assert.deepEqual(await channels(["<thinking></thinking>Answer"], "pass"), {
      text: "Answer",
      reasoning: "",
    });
  });
});

Deno.test("ThinkingSplitStream finds tags split at every possible offset", async (t) => {
  const input = "  <thinking>plan with </thinkin inside</thinking>\n\n answer <think>not</think>";
  const expected: Record<ReasoningHandling, { text: string; reasoning: string }> = {
    as_reasoning_content: {
      text: "answer <think>not</think>",
      reasoning: "plan with </thinkin inside",
    },
    remove: { text: "answer <think>not</think>", reasoning: "" },
    pass: {
      text: "<thinking>plan with </thinkin inside</thinking>answer <think>not</think>",
      reasoning: "",
    },
    strip_tags: { text: "plan with </thinkin insideanswer <think>not</think>", reasoning: "" },
  };
  for (const mode of MODES) {
    await t.step(mode, async () => {
      for (let i = 0; i <= input.length; i++) {
        for (let j = i; j <= input.length; j += 3) {
          const chunks = [input.slice(0, i), input.slice(i, j), input.slice(j)];
          assert.deepEqual(await channels(chunks, mode), expected[mode], `split at ${i}, ${j}`);
        }
      }
    });
  }
});

Deno.test("ThinkingSplitStream streams without holding more than it must", async (t) => {
  await t.step("plain text comes out with the delta that decided it", async () => {
    const stream = splitter();
    const reader = stream.readable.getReader();
    assert.deepEqual(await emittedAfter(stream, reader, "Hello"), { type: "text", text: "Hello" });
    assert.deepEqual(await emittedAfter(stream, reader, " <thinking>"), {
      type: "text",
      text: " <thinking>",
    });
    await stream.writable.close();
    assert.equal((await reader.read()).done, true);
  });

  await t.step("inside a block all but the hold-back is emitted at once", async () => {
    const stream = splitter();
    const reader = stream.readable.getReader();
    const body = "a".repeat(100);
    assert.deepEqual(await emittedAfter(stream, reader, `<thinking>${body}`), {
      type: "reasoning",
      text: body.slice(0, 100 - THINKING_HOLD_BACK_CHARS),
    });
    await stream.writable.close();
    assert.deepEqual(await reader.read(), {
      done: false,
      value: { type: "reasoning", text: body.slice(100 - THINKING_HOLD_BACK_CHARS) },
    });
    assert.equal((await reader.read()).done, true);
  });

  await t.step("a surrogate pair is never cut in two", async () => {
    const body = `${"a".repeat(7)}😀${"b".repeat(21)}`;
    const out = await run([`<thinking>${body}`]);
    for (const e of out) {
      assert.ok(e.type === "reasoning" && e.text.isWellFormed(), JSON.stringify(e));
    }
  });
});

Deno.test("ThinkingSplitStream keeps event order around non-text events", async (t) => {
  const toolCall: ChatEvent = { type: "tool_call", id: "t1", name: "bash", arguments: "{}" };
  await t.step("an undecided start is text before the next event", async () => {
    assert.deepEqual(await run(["<thin", toolCall, "g>"]), [
      { type: "text", text: "<thin" },
      toolCall,
      { type: "text", text: "g>" },
    ]);
  });
  await t.step("an open block is closed before the end event", async () => {
    assert.deepEqual(await run(["<thinking>abc", END], "pass"), [
      { type: "text", text: "<thinking>abc</thinking>" },
      END,
    ]);
  });
  await t.step("native reasoning before any text passes without deciding", async () => {
    const native: ChatEvent = { type: "reasoning", text: "native" };
    assert.deepEqual(await run([native, "<thinking>x</thinking>y"]), [
      native,
      { type: "reasoning", text: "x" },
      { type: "text", text: "y" },
    ]);
  });
});

Deno.test("ThinkingSplitStream passes everything through when disabled", async () => {
  const events: ChatEvent[] = [{ type: "text", text: "<thinking>x</thinking>" }, END];
  const stream = new ThinkingSplitStream({
    enabled: false,
    handling: "remove",
    initialBufferSize: 20,
  });
  assert.deepEqual(await collect(streamOf(events).pipeThrough(stream)), events);
});

const FRAGMENTS = [
  "<thinking>",
  "</thinking>",
  "<think>",
  "</think>",
  "<reasoning>",
  "</thought>",
  "<thi",
  "</thin",
  "<",
  "/",
  ">",
  " ",
  "\n",
  "a",
  "Answer",
  "😀",
];

function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(text.slice(from, p));
    from = p;
  }
  chunks.push(text.slice(from));
  return chunks;
}

Deno.test("ThinkingSplitStream output does not depend on how the text is split", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 30 }).map((parts) => parts.join("")),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.constantFrom(...MODES),
      async (text, cuts, mode) => {
        const whole = await channels([text], mode);
        assert.deepEqual(await channels(splitAt(text, cuts), mode), whole);
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("ThinkingSplitStream never leaks a fragment of a consumed tag", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...THINKING_OPEN_TAGS),
      fc.constantFrom("", " ", "\n\n  "),
      fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 20 }).map((parts) => parts.join("")),
      fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 10 }).map((parts) => parts.join("")),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (tag, lead, body, rest, cuts) => {
        fc.pre(!body.includes(closeOf(tag)));
        const text = `${lead}${tag}${body}${closeOf(tag)}${rest}`;
        const got = await channels(splitAt(text, cuts), "as_reasoning_content");
        assert.deepEqual(got, { text: rest.trimStart(), reasoning: body });
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("ThinkingSplitStream reports the split-out reasoning in the end event's usage", async (t) => {
  const end = (outputTokens: number): ChatEvent => ({
    type: "end",
    stopReason: "end_turn",
    usage: { inputTokens: 5, outputTokens },
  });
  const split = (handling: ReasoningHandling, outputTokens: number) =>
    collect(
      streamOf<ChatEvent>([
        { type: "text", text: "<thinking>abcdef</thinking>Hi" },
        end(outputTokens),
      ])
        .pipeThrough(
          new ThinkingSplitStream({
            enabled: true,
            handling,
            initialBufferSize: 20,
            countTokens: (text) => text.length,
          }),
        ),
    );
  await t.step("as reasoning content: counted", async () => {
    const out = await split("as_reasoning_content", 100);
    assert.deepEqual(out.at(-1), {
      type: "end",
      stopReason: "end_turn",
      usage: { inputTokens: 5, outputTokens: 100, reasoningTokens: 6 },
    });
  });
  await t.step("never more than the output", async () => {
    const out = await split("as_reasoning_content", 4);
    assert.equal((out.at(-1) as { usage: { reasoningTokens: number } }).usage.reasoningTokens, 4);
  });
  await t.step("thinking delivered as text is not reasoning", async () => {
    const out = await split("strip_tags", 100);
    assert.deepEqual(out.at(-1), end(100));
  });
});
