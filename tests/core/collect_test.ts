import assert from "node:assert/strict";
import type { ChatEvent } from "../../src/core/chat.ts";
import { collectReply } from "../../src/core/collect.ts";
import { GatewayError } from "../../src/errors.ts";
import { streamOf, within } from "../helpers.ts";

Deno.test("collectReply keeps text and web searches in the order they came", async () => {
  const hit = { title: "T", url: "https://example.com/", snippet: "S" };
  const events: ChatEvent[] = [
    { type: "text", text: "Let me " },
    { type: "text", text: "look." },
    { type: "web_search_call", id: "srvtoolu_1", query: "q1" },
    { type: "web_search_result", id: "srvtoolu_1", results: [hit] },
    { type: "web_search_call", id: "srvtoolu_2", query: "q2" },
    {
      type: "web_search_result",
      id: "srvtoolu_2",
      results: [],
      error: { code: "unavailable", message: "down" },
    },
    { type: "text", text: "Found it." },
    {
      type: "end",
      stopReason: "end_turn",
      usage: { inputTokens: 1, outputTokens: 2, webSearchRequests: 2 },
    },
  ];
  const reply = await collectReply(streamOf(events));
  assert.equal(reply.text, "Let me look.Found it.");
  assert.deepEqual(reply.segments, [
    { type: "text", text: "Let me look." },
    { type: "web_search", search: { id: "srvtoolu_1", query: "q1", results: [hit] } },
    {
      type: "web_search",
      search: {
        id: "srvtoolu_2",
        query: "q2",
        results: [],
        error: { code: "unavailable", message: "down" },
      },
    },
    { type: "text", text: "Found it." },
  ]);
  assert.equal(reply.usage.webSearchRequests, 2);
});

Deno.test("collectReply folds a reply into text, reasoning, tool calls and usage", async () => {
  const events: ChatEvent[] = [
    { type: "reasoning", text: "Think " },
    { type: "reasoning", text: "first." },
    { type: "text", text: "Let me " },
    { type: "text", text: "check." },
    { type: "tool_call", id: "t1", name: "bash", arguments: '{"cmd":"ls"}' },
    { type: "tool_call", id: "t2", name: "read", arguments: "{}" },
    {
      type: "end",
      stopReason: "tool_use",
      usage: { inputTokens: 10, outputTokens: 5, credits: 0.2 },
    },
  ];
  assert.deepEqual(await collectReply(streamOf(events)), {
    text: "Let me check.",
    segments: [],
    reasoning: "Think first.",
    reasoningBlocks: [{ type: "text", text: "Think first." }],
    toolCalls: [
      { id: "t1", name: "bash", arguments: '{"cmd":"ls"}' },
      { id: "t2", name: "read", arguments: "{}" },
    ],
    stopReason: "tool_use",
    usage: { inputTokens: 10, outputTokens: 5, credits: 0.2 },
  });
});

Deno.test("collectReply keeps reasoning blocks with their signatures", async () => {
  const events: ChatEvent[] = [
    { type: "reasoning", text: "Plan " },
    { type: "reasoning", text: "A." },
    { type: "reasoning_signature", signature: "kgw1.sig.S1" },
    { type: "redacted_reasoning", data: "kgw1.red.R" },
    { type: "reasoning_signature", signature: "kgw1.sig.S2" },
    { type: "text", text: "Done." },
    { type: "end", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } },
  ];
  const reply = await collectReply(streamOf(events));
  assert.equal(reply.reasoning, "Plan A.");
  assert.deepEqual(reply.reasoningBlocks, [
    { type: "text", text: "Plan A.", signature: "kgw1.sig.S1" },
    { type: "redacted", data: "kgw1.red.R" },
    { type: "text", text: "", signature: "kgw1.sig.S2" },
  ]);
});

Deno.test("collectReply joins many small pieces in order", async () => {
  const pieces = Array.from({ length: 5000 }, (_, i) => `${i % 10}`);
  const events: ChatEvent[] = [
    ...pieces.map((text): ChatEvent => ({ type: "text", text })),
    { type: "end", stopReason: "end_turn", usage: { inputTokens: 0, outputTokens: 0 } },
  ];
  assert.equal((await collectReply(streamOf(events))).text, pieces.join(""));
});

Deno.test("collectReply throws the error of an error event and cancels the rest", async () => {
  const error = new GatewayError("upstream_timeout", "Kiro did not answer in time");
  const cancelled = Promise.withResolvers<void>();
  const queue: ChatEvent[] = [{ type: "text", text: "Partial" }, { type: "error", error }];
  const source = new ReadableStream<ChatEvent>({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      // After the error event the source stays open: only a cancel ends it.
    },
    cancel() {
      cancelled.resolve();
    },
  }, { highWaterMark: 0 });
  await assert.rejects(collectReply(source), (err) => err === error);
  await within(cancelled.promise, 1000, "cancel");
});

Deno.test("collectReply reports a reply that ends without an end event", async () => {
  await assert.rejects(
    collectReply(streamOf<ChatEvent>([{ type: "text", text: "Hi" }])),
    (err) => err instanceof GatewayError && err.kind === "upstream_protocol",
  );
});
