import assert from "node:assert/strict";
import type { ChatEvent } from "../../../src/core/chat.ts";
import { SseEncoderStream, type SseMessage } from "../../../src/core/sse.ts";
import { OpenAiChunkStream } from "../../../src/dialects/openai/stream.ts";
import { GatewayError } from "../../../src/errors.ts";
import { collect, streamOf } from "../../helpers.ts";

const CONTEXT = { id: "chatcmpl-0123", created: 1747570000, model: "claude-sonnet-4-5" };

const END: ChatEvent = {
  type: "end",
  stopReason: "end_turn",
  usage: { inputTokens: 10, outputTokens: 3 },
};

function render(events: ChatEvent[], includeUsage = false): Promise<SseMessage[]> {
  return collect(streamOf(events).pipeThrough(new OpenAiChunkStream({ ...CONTEXT, includeUsage })));
}

/** Parses every data message but the final `[DONE]`. */
function chunks(messages: SseMessage[]): Record<string, unknown>[] {
  assert.equal(messages.at(-1)?.data, "[DONE]");
  return messages.slice(0, -1).map((m) => JSON.parse(m.data));
}

function deltas(messages: SseMessage[]): unknown[] {
  return chunks(messages).map((c) => (c.choices as { delta: unknown }[])[0]?.delta);
}

/** Compares `actual` with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
async function assertGolden(actual: string, name: string): Promise<void> {
  const path = new URL(`../../golden/${name}`, import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(path, actual);
    return;
  }
  const expected = await Deno.readTextFile(path);
  assert.equal(actual, expected, `${name} differs; rerun with UPDATE_GOLDEN=1 to review`);
}

Deno.test("OpenAiChunkStream renders a reply as OpenAI chunks", async (t) => {
  await t.step("every chunk shares the id, created, model and object", async () => {
    const out = chunks(await render([{ type: "text", text: "Hi" }, END]));
    for (const chunk of out) {
      assert.equal(chunk.id, CONTEXT.id);
      assert.equal(chunk.created, CONTEXT.created);
      assert.equal(chunk.model, CONTEXT.model);
      assert.equal(chunk.object, "chat.completion.chunk");
    }
  });

  await t.step("the role chunk is sent before any event arrives", async () => {
    const stream = new OpenAiChunkStream({ ...CONTEXT, includeUsage: false });
    const reader = stream.readable.getReader();
    const first = await reader.read();
    assert.deepEqual(JSON.parse(first.value?.data ?? "{}").choices[0].delta, {
      role: "assistant",
      content: "",
    });
    await reader.cancel();
    await stream.writable.abort();
  });

  await t.step("text and reasoning become content and reasoning_content deltas", async () => {
    const out = await render([
      { type: "reasoning", text: "Think" },
      { type: "text", text: "Hello" },
      { type: "text", text: "" },
      { type: "text", text: " world" },
      END,
    ]);
    assert.deepEqual(deltas(out), [
      { role: "assistant", content: "" },
      { reasoning_content: "Think" },
      { content: "Hello" },
      { content: " world" },
      {},
    ]);
  });

  await t.step("each tool call is a header chunk and one arguments chunk", async () => {
    const out = await render([
      { type: "tool_call", id: "call_a", name: "bash", arguments: '{"cmd":"ls"}' },
      { type: "tool_call", id: "call_b", name: "read", arguments: '{"path":"x"}' },
      { type: "end", stopReason: "tool_use", usage: { inputTokens: 1, outputTokens: 1 } },
    ]);
    assert.deepEqual(deltas(out).slice(1, 5), [
      {
        tool_calls: [{
          index: 0,
          id: "call_a",
          type: "function",
          function: { name: "bash", arguments: "" },
        }],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"cmd":"ls"}' } }] },
      {
        tool_calls: [{
          index: 1,
          id: "call_b",
          type: "function",
          function: { name: "read", arguments: "" },
        }],
      },
      { tool_calls: [{ index: 1, function: { arguments: '{"path":"x"}' } }] },
    ]);
  });
});

Deno.test("OpenAiChunkStream finishes once with the right reason and usage", async (t) => {
  const cases: {
    name: string;
    events: ChatEvent[];
    reason: string;
  }[] = [
    { name: "end_turn is stop", events: [{ type: "text", text: "a" }, END], reason: "stop" },
    {
      name: "max_tokens is length",
      events: [{ type: "text", text: "a" }, { ...END, stopReason: "max_tokens" }],
      reason: "length",
    },
    {
      name: "tool_use is tool_calls",
      events: [
        { type: "tool_call", id: "c", name: "f", arguments: "{}" },
        { ...END, stopReason: "tool_use" },
      ],
      reason: "tool_calls",
    },
    {
      name: "end_turn after a tool call is still tool_calls",
      events: [{ type: "tool_call", id: "c", name: "f", arguments: "{}" }, END],
      reason: "tool_calls",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const out = chunks(await render(c.events));
      const reasons = out.map((chunk) =>
        (chunk.choices as { finish_reason: string | null }[])[0]?.finish_reason
      ).filter((r) => r !== null);
      assert.deepEqual(reasons, [c.reason]);
    });
  }

  await t.step("without include_usage the finish chunk carries usage", async () => {
    const out = chunks(await render([END]));
    assert.equal(out.length, 2);
    assert.deepEqual(out[1]?.usage, {
      prompt_tokens: 10,
      completion_tokens: 3,
      total_tokens: 13,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  await t.step("with include_usage a usage chunk with no choices follows", async () => {
    const credited: ChatEvent = {
      ...END,
      usage: {
        inputTokens: 5,
        outputTokens: 2,
        credits: 0.4,
        cacheReadInputTokens: 3,
        reasoningTokens: 1,
      },
    };
    const out = chunks(await render([credited], true));
    assert.equal(out.length, 3);
    assert.equal(out[1]?.usage, undefined);
    assert.deepEqual(out[2]?.choices, []);
    assert.deepEqual(out[2]?.usage, {
      prompt_tokens: 5,
      completion_tokens: 2,
      total_tokens: 7,
      prompt_tokens_details: { cached_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 1 },
      credits_used: 0.4,
    });
  });
});

Deno.test("OpenAiChunkStream reports errors in-band and ends", async (t) => {
  await t.step("an error event becomes one error chunk then [DONE]", async () => {
    const error = new GatewayError("upstream_timeout", "Kiro did not answer");
    const out = await render([
      { type: "text", text: "partial" },
      { type: "error", error },
      { type: "text", text: "ignored" },
    ]);
    assert.equal(out.length, 4);
    assert.deepEqual(JSON.parse(out[2]?.data ?? ""), {
      error: {
        message: "Kiro did not answer",
        type: "timeout_error",
        param: null,
        code: "upstream_timeout",
      },
    });
    assert.equal(out[3]?.data, "[DONE]");
  });

  await t.step("input that ends without an end event becomes an error chunk", async () => {
    const out = await render([{ type: "text", text: "cut" }]);
    const error = JSON.parse(out.at(-2)?.data ?? "").error;
    assert.equal(error.code, "upstream_protocol_error");
    assert.equal(out.at(-1)?.data, "[DONE]");
  });

  await t.step("events after end are ignored", async () => {
    const out = await render([END, { type: "text", text: "late" }]);
    assert.equal(out.length, 3);
  });
});

Deno.test("OpenAiChunkStream output matches the golden SSE", async () => {
  const events: ChatEvent[] = [
    { type: "reasoning", text: "Need to list files." },
    { type: "text", text: "Listing now. ünïcødé" },
    { type: "tool_call", id: "tooluse_Q1w2E3r4", name: "bash", arguments: '{"cmd": "ls"}' },
    { type: "end", stopReason: "tool_use", usage: { inputTokens: 6274, outputTokens: 12 } },
  ];
  const bytes = await collect(
    streamOf(events)
      .pipeThrough(new OpenAiChunkStream({ ...CONTEXT, includeUsage: true }))
      .pipeThrough(new SseEncoderStream()),
  );
  const text = bytes.map((b) => new TextDecoder().decode(b)).join("");
  await assertGolden(text, "openai/tool_call_stream.sse");
});
