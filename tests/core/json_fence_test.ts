import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { type JsonFenceReport, JsonFenceStream } from "../../src/core/json_fence.ts";
import { collect, streamOf } from "../helpers.ts";

const END: ChatEvent = {
  type: "end",
  stopReason: "end_turn",
  usage: { inputTokens: 1, outputTokens: 1 },
};

async function unwrap(pieces: string[]): Promise<{ text: string; reports: JsonFenceReport[] }> {
  const reports: JsonFenceReport[] = [];
  const events: ChatEvent[] = [...pieces.map((text) => ({ type: "text" as const, text })), END];
  const out = await collect(
    streamOf(events).pipeThrough(new JsonFenceStream((report) => reports.push(report))),
  );
  assert.deepEqual(out.at(-1), END, "the end event comes last");
  const text = out.map((event) => event.type === "text" ? event.text : "").join("");
  return { text, reports };
}

/** Every way of cutting `text` into two or three pieces. */
function splits(text: string): string[][] {
  const out: string[][] = [[text]];
  for (let i = 1; i < text.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < text.length; j += 3) {
      out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
    }
  }
  return out;
}

Deno.test("a fenced JSON answer is unwrapped whatever the chunk boundaries", async (t) => {
  const cases = [
    { name: "json fence", input: '```json\n{"a": 1}\n```', output: '{"a": 1}' },
    { name: "bare fence", input: "```\n[1, 2]\n```\n", output: "[1, 2]" },
    {
      name: "leading blank line",
      input: '\n```json\n{\n  "b": "x"\n}\n```',
      output: '{\n  "b": "x"\n}',
    },
    {
      name: "prose after the fence",
      input: '```json\n{"c": true}\n```\n\nThis matches the schema.',
      output: '{"c": true}',
    },
    {
      name: "backticks inside a string",
      input: '```json\n{"d": "``x``"}\n```',
      output: '{"d": "``x``"}',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      for (const pieces of splits(c.input)) {
        const { text, reports } = await unwrap(pieces);
        assert.equal(text, c.output, JSON.stringify(pieces));
        assert.equal(reports.length, 1);
      }
    });
  }
});

Deno.test("an answer without a fence passes through untouched", async (t) => {
  const cases = [
    '{"a": 1}',
    "  plain text with ``` later\n```",
    "``not a fence``",
    "```python\nprint(1)\n```",
  ];
  for (const input of cases) {
    await t.step(JSON.stringify(input), async () => {
      for (const pieces of splits(input)) {
        const { text, reports } = await unwrap(pieces);
        assert.equal(text, input, JSON.stringify(pieces));
        assert.deepEqual(reports, []);
      }
    });
  }
});

Deno.test("the dropped prose after the closing fence is reported", async () => {
  const { reports } = await unwrap(["```json\n{}\n```", "\nDone."]);
  assert.deepEqual(reports, [{ droppedChars: 6 }]);
});

Deno.test("held-back text is sent before a tool call that follows it", async () => {
  const call: ChatEvent = { type: "tool_call", id: "t1", name: "f", arguments: "{}" };
  const out = await collect(
    streamOf<ChatEvent>([{ type: "text", text: "``" }, call, END]).pipeThrough(
      new JsonFenceStream(),
    ),
  );
  assert.deepEqual(out, [{ type: "text", text: "``" }, call, END]);
});
