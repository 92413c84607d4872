import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { TruncatedTextStream } from "../../src/core/truncated_text.ts";
import { collect, streamOf } from "../helpers.ts";

const usage = { inputTokens: 1, outputTokens: 1 };

Deno.test("a cut-off reply's answer text is remembered without its reasoning", async () => {
  const remembered: string[] = [];
  const events: ChatEvent[] = [
    { type: "reasoning", text: "think" },
    { type: "text", text: "Hello " },
    { type: "text", text: "world" },
    { type: "end", stopReason: "max_tokens", usage },
  ];
  const out = await collect(
    streamOf(events).pipeThrough(new TruncatedTextStream((t) => remembered.push(t))),
  );
  assert.deepEqual(out, events);
  assert.deepEqual(remembered, ["Hello world"]);
});

Deno.test("a complete reply is not remembered", async () => {
  const remembered: string[] = [];
  await collect(
    streamOf<ChatEvent>([
      { type: "text", text: "Done" },
      { type: "end", stopReason: "end_turn", usage },
    ]).pipeThrough(new TruncatedTextStream((t) => remembered.push(t))),
  );
  assert.deepEqual(remembered, []);
});
