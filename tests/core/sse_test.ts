import assert from "node:assert/strict";
import { SseEncoderStream, type SseMessage } from "../../src/core/sse.ts";
import { collect, streamOf } from "../helpers.ts";

async function encode(messages: SseMessage[]): Promise<string> {
  const chunks = await collect(streamOf(messages).pipeThrough(new SseEncoderStream()));
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode();
}

Deno.test("SseEncoderStream writes server-sent events", async (t) => {
  const cases: { name: string; messages: SseMessage[]; wire: string }[] = [
    {
      name: "a named event with its data",
      messages: [{ event: "message_start", data: '{"type":"message_start"}' }],
      wire: 'event: message_start\ndata: {"type":"message_start"}\n\n',
    },
    {
      name: "data without an event name",
      messages: [{ data: "[DONE]" }],
      wire: "data: [DONE]\n\n",
    },
    {
      name: "each line of multi-line data on its own data line",
      messages: [{ event: "x", data: "one\ntwo\r\nthree\rfour" }],
      wire: "event: x\ndata: one\ndata: two\ndata: three\ndata: four\n\n",
    },
    {
      name: "empty data as one empty data line",
      messages: [{ data: "" }],
      wire: "data: \n\n",
    },
    {
      name: "several messages in order, non-ASCII text as UTF-8",
      messages: [{ data: "ü €" }, { event: "ping", data: "{}" }],
      wire: "data: ü €\n\nevent: ping\ndata: {}\n\n",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      assert.equal(await encode(c.messages), c.wire);
    });
  }
});

Deno.test("SseEncoderStream refuses an event name with a line break", async () => {
  await assert.rejects(encode([{ event: "a\nb", data: "" }]), /Cannot encode SSE event name/);
});
