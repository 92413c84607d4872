/**
 * The gateway's own CPU per event, without the network: the steps of a Kiro reply (frame
 * decoder, Kiro events, reply tracking) and each dialect's renderer and SSE body, fed the
 * bench's frames from memory and read to the end in the same process, against the same chunks
 * read through a bare stream (the baseline). `deno run -A --config deno.test.json
 * bench/pipeline.ts [--runs=N]` prints, per dialect, the medians with one frame per read (as
 * Kiro streams) and with 16 KiB reads (bulk); bench/run.ts reports them too.
 */
import { parseArgs } from "node:util";
import type { ChatEvent } from "../src/core/chat.ts";
import { chainTransformers } from "../src/core/fuse.ts";
import type { PlainSource } from "../src/core/plain_source.ts";
import { sourceStream } from "../src/core/plain_source.ts";
import { replyEvents } from "../src/core/reply.ts";
import { sseBody, type SseMessage } from "../src/core/sse.ts";
import { pipeToEvents } from "../src/core/streams.ts";
import { TokenCounter } from "../src/core/tokens.ts";
import { anthropicEvents } from "../src/dialects/anthropic/stream.ts";
import { openAiChunks } from "../src/dialects/openai/stream.ts";
import { parseResponsesBody } from "../src/dialects/responses/schema.ts";
import { responsesEvents } from "../src/dialects/responses/stream.ts";
import { frameDecoder } from "../src/kiro/eventstream.ts";
import { kiroEvents } from "../src/kiro/events.ts";
import { median } from "./measure.ts";
import { buildReplyFrames, toChunks } from "./reply_frames.ts";

/** The dialects a reply is rendered in. */
export type Dialect = "openai" | "anthropic" | "responses";

/** The renderer each dialect's handler builds for a streamed reply. */
function renderer(dialect: Dialect): Transformer<ChatEvent, SseMessage> {
  if (dialect === "openai") {
    return openAiChunks({
      id: "chatcmpl-0123456789abcdef0123456789abcdef",
      created: 1_764_500_000,
      model: "claude-sonnet-4.5",
      includeUsage: false,
    });
  }
  if (dialect === "anthropic") {
    return anthropicEvents({
      id: "msg_0123456789abcdef01234567",
      model: "claude-sonnet-4.5",
      inputTokens: 12,
      signature: "sig_0123456789abcdef0123456789abcdef",
    });
  }
  return responsesEvents({
    id: "resp_0123456789abcdef0123456789abcdef0123456789abcdef",
    createdAt: 1_764_500_000,
    body: parseResponsesBody({ model: "claude-sonnet-4.5", input: "Hi", stream: true }),
    calls: new Map(),
    newId: (prefix) => `${prefix}0123456789abcdef0123456789abcdef0123456789abcdef`,
  });
}

/** The chunks, handed out one per read from memory. */
class MemorySource implements PlainSource<Uint8Array> {
  #chunks: Uint8Array[];
  #at = 0;
  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks;
  }
  next(): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#chunks[this.#at++]);
  }
  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

/** The SSE body of `dialect` for the Kiro reply `chunks`, through the gateway's whole pipe. */
export function pipeBody(dialect: Dialect, chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  const counter = new TokenCounter();
  const steps = chainTransformers(
    chainTransformers(frameDecoder(), kiroEvents()),
    replyEvents({ counter, estimateInputTokens: () => 12 }),
  );
  const events = pipeToEvents(sourceStream(new MemorySource(chunks)), steps);
  return sseBody(events, renderer(dialect));
}

/** Streams `chunks` through the whole pipe of `dialect` and reads the SSE body to the end. */
async function runOnce(dialect: Dialect, chunks: Uint8Array[]): Promise<number> {
  const reader = pipeBody(dialect, chunks).getReader();
  let bytes = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

/** The chunks read through a bare stream: what reading them costs before any gateway work. */
async function readBare(chunks: Uint8Array[]): Promise<number> {
  const reader = sourceStream(new MemorySource(chunks)).getReader();
  let bytes = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

/** Medians of the bare read and of the whole pipe, in ms. */
export interface PipelineResult {
  bareMs: number;
  pipeMs: number;
}

/** Runs the bare read and the pipe of `dialect` over `chunks` `runs` times each, alternating. */
export async function measurePipeline(
  dialect: Dialect,
  chunks: Uint8Array[],
  runs: number,
): Promise<PipelineResult> {
  for (let i = 0; i < 5; i++) {
    await readBare(chunks);
    await runOnce(dialect, chunks);
  }
  const bare: number[] = [];
  const pipe: number[] = [];
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    await readBare(chunks);
    bare.push(performance.now() - start);
    start = performance.now();
    await runOnce(dialect, chunks);
    pipe.push(performance.now() - start);
  }
  return { bareMs: median(bare), pipeMs: median(pipe) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
  const runs = Number(values.runs ?? "40");
  const frames = buildReplyFrames({ textChars: 200_000, deltaChars: 64 });
  const loads = [
    { name: "one frame per read", chunks: frames },
    { name: "16 KiB reads", chunks: toChunks(frames, 16 * 1024) },
  ];
  for (const load of loads) {
    for (const dialect of ["openai", "anthropic", "responses"] as const) {
      const { bareMs, pipeMs } = await measurePipeline(dialect, load.chunks, runs);
      const line = `${dialect}, ${load.name}: ${pipeMs.toFixed(2)} ms for ${frames.length} ` +
        `frames (bare read ${bareMs.toFixed(2)} ms), ${
          ((pipeMs - bareMs) / frames.length * 1000).toFixed(2)
        } µs per event\n`;
      await Deno.stdout.write(new TextEncoder().encode(line));
    }
  }
}

if (import.meta.main) await main();
