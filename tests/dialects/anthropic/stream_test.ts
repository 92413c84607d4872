import assert from "node:assert/strict";
import type { ChatEvent } from "../../../src/core/chat.ts";
import { SseEncoderStream, type SseMessage } from "../../../src/core/sse.ts";
import {
  AnthropicSseStream,
  type AnthropicStreamContext,
} from "../../../src/dialects/anthropic/stream.ts";
import { GatewayError } from "../../../src/errors.ts";
import { assertGolden } from "../../golden_helper.ts";
import { collect, streamOf, within } from "../../helpers.ts";

const CTX: AnthropicStreamContext = {
  id: "msg_0a1b2c3d4e5f60718293a4b5",
  model: "claude-sonnet-4-5",
  inputTokens: 6120,
  signature: "sig_9f8e7d6c5b4a39281706f5e4d3c2b1a0",
};

const END: ChatEvent = {
  type: "end",
  stopReason: "tool_use",
  usage: { inputTokens: 6274, outputTokens: 12 },
};

async function renderSse(events: ChatEvent[], ctx = CTX): Promise<string> {
  const bytes = await collect(
    streamOf(events).pipeThrough(new AnthropicSseStream(ctx)).pipeThrough(
      new SseEncoderStream(),
    ),
  );
  return new TextDecoder().decode(
    bytes.reduce((all, chunk) => new Uint8Array([...all, ...chunk]), new Uint8Array()),
  );
}

async function render(events: ChatEvent[], ctx = CTX): Promise<SseMessage[]> {
  return await collect(streamOf(events).pipeThrough(new AnthropicSseStream(ctx)));
}

function parsed(messages: SseMessage[]): Record<string, unknown>[] {
  return messages.map((m) => {
    const data = JSON.parse(m.data);
    assert.equal(m.event, data.type, "the event name matches the data's type");
    return data;
  });
}

Deno.test("AnthropicSseStream renders replies as Anthropic events", async (t) => {
  await t.step("thinking, text and a tool match the golden SSE", async () => {
    const sse = await renderSse([
      { type: "reasoning", text: "Need to list " },
      { type: "reasoning", text: "files." },
      { type: "text", text: "Listing " },
      { type: "text", text: "now." },
      {
        type: "tool_call",
        id: "tooluse_Q1w2E3r4T5y6U7i8O9p0Aa",
        name: "bash",
        arguments: '{"cmd": "ls"}',
      },
      END,
    ]);
    await assertGolden(sse, "anthropic/thinking_text_tool.sse");
  });

  await t.step("an error event after text matches the golden SSE", async () => {
    const sse = await renderSse([
      { type: "text", text: "Partial" },
      {
        type: "error",
        error: new GatewayError("upstream_timeout", "Kiro stopped sending: no chunk within 300 s"),
      },
    ]);
    await assertGolden(sse, "anthropic/error_mid_stream.sse");
  });

  await t.step("block indexes are consecutive and each block closes before the next", async () => {
    const events = parsed(
      await render([
        { type: "text", text: "A" },
        { type: "reasoning", text: "hm" },
        { type: "text", text: "B" },
        { type: "tool_call", id: "t1", name: "x", arguments: "{}" },
        { type: "tool_call", id: "t2", name: "y", arguments: '{"a":1}' },
        { type: "text", text: "C" },
        END,
      ]),
    );
    const shape = events.map((e) =>
      e.type === "content_block_start" || e.type === "content_block_stop"
        ? `${e.type}:${e.index}`
        : e.type === "content_block_delta"
        ? `delta:${e.index}:${(e.delta as { type: string }).type}`
        : String(e.type)
    );
    assert.deepEqual(shape, [
      "message_start",
      "ping",
      "content_block_start:0",
      "delta:0:text_delta",
      "content_block_stop:0",
      "content_block_start:1",
      "delta:1:thinking_delta",
      "delta:1:signature_delta",
      "content_block_stop:1",
      "content_block_start:2",
      "delta:2:text_delta",
      "content_block_stop:2",
      "content_block_start:3",
      "delta:3:input_json_delta",
      "content_block_stop:3",
      "content_block_start:4",
      "delta:4:input_json_delta",
      "content_block_stop:4",
      "content_block_start:5",
      "delta:5:text_delta",
      "content_block_stop:5",
      "message_delta",
      "message_stop",
    ]);
  });

  await t.step(
    "native reasoning keeps Kiro's signature; redacted reasoning is its own block",
    async () => {
      const events = parsed(
        await render([
          { type: "reasoning", text: "Plan." },
          { type: "reasoning_signature", signature: "kgw1.sig.REAL" },
          { type: "redacted_reasoning", data: "kgw1.red.DATA" },
          { type: "reasoning_signature", signature: "kgw1.sig.EMPTY" },
          { type: "text", text: "Hi" },
          END,
        ]),
      );
      const blocks = events.filter((e) =>
        e.type === "content_block_start" || e.type === "content_block_delta"
      ).map((e) => e.type === "content_block_start" ? e.content_block : e.delta);
      assert.deepEqual(blocks, [
        { type: "thinking", thinking: "", signature: "" },
        { type: "thinking_delta", thinking: "Plan." },
        { type: "signature_delta", signature: "kgw1.sig.REAL" },
        { type: "redacted_thinking", data: "kgw1.red.DATA" },
        { type: "thinking", thinking: "", signature: "" },
        { type: "signature_delta", signature: "kgw1.sig.EMPTY" },
        { type: "text", text: "" },
        { type: "text_delta", text: "Hi" },
      ]);
      const starts = events.filter((e) => e.type === "content_block_start").length;
      const stops = events.filter((e) => e.type === "content_block_stop").length;
      assert.equal(stops, starts);
    },
  );

  await t.step("message_start carries the estimate and message_delta the final usage", async () => {
    const events = parsed(
      await render([{
        type: "end",
        stopReason: "max_tokens",
        usage: {
          inputTokens: 50,
          outputTokens: 7,
          cacheReadInputTokens: 30,
          cacheCreationInputTokens: 5,
        },
      }]),
    );
    const start = events[0] as { message: { usage: unknown; model: string; id: string } };
    assert.deepEqual(start.message.usage, {
      input_tokens: 6120,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 0,
    });
    assert.equal(start.message.model, "claude-sonnet-4-5");
    assert.equal(start.message.id, CTX.id);
    assert.deepEqual(events[2], {
      type: "message_delta",
      delta: { stop_reason: "max_tokens", stop_sequence: null, stop_details: null },
      usage: {
        input_tokens: 15,
        cache_creation_input_tokens: 5,
        cache_read_input_tokens: 30,
        output_tokens: 7,
      },
    });
  });

  await t.step("empty text pieces open no block", async () => {
    const events = parsed(await render([{ type: "text", text: "" }, END]));
    assert.deepEqual(events.map((e) => e.type), [
      "message_start",
      "ping",
      "message_delta",
      "message_stop",
    ]);
  });

  await t.step(
    "an error ends the stream without message_stop and ignores later events",
    async () => {
      const events = parsed(
        await render([
          { type: "reasoning", text: "x" },
          { type: "error", error: new GatewayError("overloaded", "Kiro is overloaded") },
          { type: "text", text: "late" },
          END,
        ]),
      );
      assert.deepEqual(events.at(-1), {
        type: "error",
        error: { type: "overloaded_error", message: "Kiro is overloaded" },
      });
      assert.equal(events.filter((e) => e.type === "error").length, 1);
      assert.ok(!events.some((e) => e.type === "message_stop"));
    },
  );

  await t.step("input that ends without an end event yields one error event", async () => {
    const events = parsed(await render([{ type: "text", text: "cut" }]));
    assert.equal(events.at(-1)?.type, "error");
    assert.ok(!events.some((e) => e.type === "message_stop"));
  });
});

Deno.test("AnthropicSseStream pings while the reply is silent", async (t) => {
  await t.step("pings arrive while the input holds, then the reply ends", async () => {
    const gate = Promise.withResolvers<void>();
    let sent = 0;
    const input = new ReadableStream<ChatEvent>({
      async pull(controller) {
        if (sent === 1) await gate.promise;
        if (sent === 0) controller.enqueue({ type: "text", text: "Hi" });
        else if (sent === 1) controller.enqueue(END);
        else controller.close();
        sent++;
      },
    }, { highWaterMark: 0 });
    const reader = input.pipeThrough(new AnthropicSseStream({ ...CTX, pingIntervalMs: 1 }))
      .getReader();
    const seen: string[] = [];
    await within(
      (async () => {
        while (seen.filter((e) => e === "ping").length < 3) {
          const { value } = await reader.read();
          if (value) seen.push(value.event ?? "");
        }
      })(),
      5000,
      "three pings",
    );
    gate.resolve();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      seen.push(value.event ?? "");
    }
    assert.deepEqual(seen.slice(0, 4), [
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
    ]);
    assert.deepEqual(seen.slice(-3), ["content_block_stop", "message_delta", "message_stop"]);
    assert.ok(seen.slice(4, -3).every((e) => e === "ping"));
  });

  await t.step("cancelling the output stops the timer and cancels the input", async () => {
    const cancelled = Promise.withResolvers<void>();
    const input = new ReadableStream<ChatEvent>({
      pull: () => new Promise<void>(() => {}),
      cancel: () => cancelled.resolve(),
    }, { highWaterMark: 0 });
    const output = input.pipeThrough(new AnthropicSseStream({ ...CTX, pingIntervalMs: 1 }));
    const reader = output.getReader();
    await reader.read();
    await reader.cancel();
    await within(cancelled.promise, 5000, "input cancellation");
    // The test sanitizer fails this step if the ping interval were still running.
  });
});
