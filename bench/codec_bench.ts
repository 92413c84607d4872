/**
 * Decoding speed of our FrameDecoderStream against @smithy/eventstream-codec on the same
 * ~1 MB of realistic Kiro frames (text deltas, tool calls, metering, context usage) fed as
 * 16 KiB network chunks.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { FrameDecoderStream } from "../src/kiro/eventstream.ts";
import {
  concatBytes,
  contextUsageFrame,
  meteringFrame,
  textFrame,
  toolFrames,
} from "../tests/frames.ts";

const CHUNK_BYTES = 16 * 1024;
const WORDS = ["the", "file", "function", "returns", "a", "value", "when", "config", "is", "set"];

/** Builds a deterministic reply: 2,000 text deltas, 40 streamed tool calls, usage frames. */
function buildReplyBytes(): Uint8Array {
  const frames: Uint8Array[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 2000; i++) {
    const words = Array.from(
      { length: 20 + Math.floor(next() * 120) },
      () => WORDS[Math.floor(next() * WORDS.length)],
    );
    frames.push(textFrame(`${words.join(" ")}${i % 7 === 0 ? "\n\n" : " "}`));
    if (i % 50 === 49) {
      const input = JSON.stringify({ path: `src/file_${i}.ts`, content: words.join("\n") });
      const pieces = input.match(/.{1,24}/gs) ?? [];
      frames.push(...toolFrames(`tooluse_bench${i}abcdefghijklmnop`, "write_file", pieces));
    }
  }
  frames.push(meteringFrame(0.1761), contextUsageFrame(12.3456));
  return concatBytes(...frames);
}

function toChunks(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
    chunks.push(bytes.slice(at, at + CHUNK_BYTES));
  }
  return chunks;
}

/** Smithy's decoder behind the same chunk splitting its SDK uses: copy each message out. */
class SmithyDecoderStream extends TransformStream<Uint8Array, unknown> {
  constructor() {
    const codec = new EventStreamCodec(
      (bytes: Uint8Array) => utf8Decoder.decode(bytes),
      (text: string) => utf8Encoder.encode(text),
    );
    const lengthBytes = new Uint8Array(4);
    let message: Uint8Array | undefined;
    let filled = 0;
    super({
      transform(chunk, controller) {
        let at = 0;
        while (at < chunk.byteLength) {
          if (!message) {
            const count = Math.min(4 - filled, chunk.byteLength - at);
            lengthBytes.set(chunk.subarray(at, at + count), filled);
            filled += count;
            at += count;
            if (filled < 4) return;
            message = new Uint8Array(new DataView(lengthBytes.buffer).getUint32(0));
            message.set(lengthBytes);
          }
          const count = Math.min(message.byteLength - filled, chunk.byteLength - at);
          message.set(chunk.subarray(at, at + count), filled);
          filled += count;
          at += count;
          if (filled === message.byteLength) {
            controller.enqueue(codec.decode(message));
            message = undefined;
            filled = 0;
          }
        }
      },
    });
  }
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

async function drain(chunks: Uint8Array[], decoder: TransformStream<Uint8Array, unknown>) {
  let count = 0;
  const reader = ReadableStream.from(chunks).pipeThrough(decoder).getReader();
  while (!(await reader.read()).done) count++;
  return count;
}

const REPLY = buildReplyBytes();
const CHUNKS = toChunks(REPLY);

/** Decodes the same reply with ours and smithy's codec; returns the median MB/s of each. */
export async function measureCodecThroughput(
  options: { rounds?: number; warmups?: number } = {},
): Promise<{ oursMBps: number; smithyMBps: number }> {
  const rounds = options.rounds ?? 15;
  const warmups = options.warmups ?? 3;
  const ours = () => new FrameDecoderStream();
  const smithy = () => new SmithyDecoderStream();
  for (let i = 0; i < warmups; i++) {
    await drain(CHUNKS, ours());
    await drain(CHUNKS, smithy());
  }
  // Rounds alternate so both decoders see the same machine load.
  const oursRates: number[] = [];
  const smithyRates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    oursRates.push(await rateMBps(ours));
    smithyRates.push(await rateMBps(smithy));
  }
  return { oursMBps: median(oursRates), smithyMBps: median(smithyRates) };
}

async function rateMBps(make: () => TransformStream<Uint8Array, unknown>): Promise<number> {
  const start = performance.now();
  await drain(CHUNKS, make());
  return REPLY.byteLength / 1e6 / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

Deno.bench({
  name: "smithy EventStreamCodec",
  group: "decode",
  baseline: true,
  async fn() {
    await drain(CHUNKS, new SmithyDecoderStream());
  },
});

Deno.bench({
  name: "FrameDecoderStream",
  group: "decode",
  async fn() {
    await drain(CHUNKS, new FrameDecoderStream());
  },
});

if (import.meta.main) {
  const { oursMBps, smithyMBps } = await measureCodecThroughput();
  const line = `${(REPLY.byteLength / 1e6).toFixed(2)} MB: ours ${oursMBps.toFixed(0)} MB/s, ` +
    `smithy ${smithyMBps.toFixed(0)} MB/s, ${(oursMBps / smithyMBps).toFixed(1)}x`;
  await Deno.stdout.write(new TextEncoder().encode(`${line}\n`));
}
