/**
 * Peak RSS of the gateway process under N concurrent streams, for finding what one in-flight
 * stream costs: `deno run --allow-net=127.0.0.1 --allow-run=deno --allow-read --allow-env
 * bench/memory.ts [--streams=250,500,1000] [--paced-ms=N] [--repeat=N] [--chars=N]
 * [--history-chars=N] [--passthrough[=js]] [-- extra deno flags]`. Each count runs against a fresh gateway process, so
 * every peak starts from the same idle state; the slope between counts is the cost per stream.
 * `--large[=N]` measures instead what bench/run.ts's large-answer row does: the RSS of a fresh
 * gateway 2 s after three (or N) 5 MiB answers, against its idle RSS (`--repeat=N` runs).
 */
import { spawnBenchGateway } from "./gateway_process.ts";
import { gatewayRequest, measureConcurrency, timeStream } from "./measure.ts";
import { buildReplyFrames, toChunks } from "./reply_frames.ts";
import { startBenchUpstream } from "./upstream.ts";

/** One count's outcome. */
export interface MemorySample {
  streams: number;
  idleRssBytes: number;
  peakRssBytes: number;
  /** Peak V8 heap (total, used) and external memory, in bytes. */
  heapTotalBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  totalMs: number;
  /** CPU time (user and system) the gateway process spent on the streams, in ms. */
  cpuMs: number;
  errors: number;
}

/** Options of measureMemory. */
export interface MemoryOptions {
  /** Concurrent stream counts, each run against a fresh gateway. */
  streams: number[];
  /** Characters of answer text per stream. */
  textChars: number;
  /** Milliseconds between upstream frames; 0 streams back to back. */
  pacedMs: number;
  /** Characters of conversation history each request carries. */
  historyChars?: number;
  /** Measure the bare pass-through (see BenchGatewaySettings) instead of the gateway. */
  passthrough?: boolean;
  /** With passthrough: copy the body through JavaScript (see BenchGatewaySettings.throughJs). */
  throughJs?: boolean;
  /** Extra flags for the gateway's `deno run`, such as `--v8-flags=...`. */
  denoFlags?: string[];
  timeoutMs?: number;
}

/** Runs each stream count against a fresh gateway and returns idle and peak RSS. */
export async function measureMemory(options: MemoryOptions): Promise<MemorySample[]> {
  await using upstream = startBenchUpstream();
  upstream.setReply(toChunks(buildReplyFrames({ textChars: options.textChars })), {
    intervalMs: options.pacedMs,
  });
  const samples: MemorySample[] = [];
  for (const streams of options.streams) {
    await using gateway = await spawnBenchGateway(
      {
        upstreamUrl: upstream.url,
        fakeReasoning: false,
        passthrough: options.passthrough,
        throughJs: options.throughJs,
      },
      { denoFlags: options.denoFlags },
    );
    const idleRssBytes = await gateway.peakRssBytes();
    const cpuBeforeMs = (await gateway.memoryPeaks()).cpuMs;
    const result = await measureConcurrency(gateway.url, {
      streams,
      timeoutMs: options.timeoutMs ?? 120_000,
      peakRss: () => Promise.resolve(0),
      direct: options.passthrough,
      historyChars: options.historyChars,
    });
    const peaks = await gateway.memoryPeaks();
    const cpuMs = peaks.cpuMs - cpuBeforeMs;
    samples.push({
      streams,
      idleRssBytes,
      peakRssBytes: peaks.rss,
      heapTotalBytes: peaks.heapTotal,
      heapUsedBytes: peaks.heapUsed,
      externalBytes: peaks.external,
      totalMs: result.totalMs,
      cpuMs,
      errors: result.errors,
    });
  }
  return samples;
}

/** What stays after large answers: RSS and V8 heap at idle and after a rest, in bytes. */
export interface LargeAnswerSample {
  idleRssBytes: number;
  /** RSS and V8 heap total `settleMs` after the last answer. */
  afterRssBytes: number;
  afterHeapTotalBytes: number;
  peakRssBytes: number;
  answersMs: number;
}

/** Options of measureLargeAnswers. */
export interface LargeAnswerOptions {
  /** Answers read one after another. */
  answers: number;
  /** Characters of answer text each. */
  textChars: number;
  /** How long the gateway rests after the last answer before its memory is read. */
  settleMs: number;
  /** Extra flags for the gateway's `deno run`, such as `--v8-flags=...`. */
  denoFlags?: string[];
}

/**
 * Streams `answers` large OpenAI answers through a fresh gateway one after another (the
 * upstream writes 16 KiB chunks), rests `settleMs`, and compares its RSS with the idle RSS.
 */
export async function measureLargeAnswers(
  options: LargeAnswerOptions,
): Promise<LargeAnswerSample> {
  await using upstream = startBenchUpstream();
  upstream.setReply(toChunks(buildReplyFrames({ textChars: options.textChars }), 16 * 1024));
  await using gateway = await spawnBenchGateway(
    { upstreamUrl: upstream.url, fakeReasoning: false },
    { denoFlags: options.denoFlags },
  );
  const idle = await gateway.memoryPeaks();
  const [input, init] = gatewayRequest(gateway.url, "openai");
  const start = performance.now();
  for (let i = 0; i < options.answers; i++) await timeStream(input, init);
  const answersMs = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, options.settleMs));
  const after = await gateway.memoryPeaks();
  return {
    idleRssBytes: idle.rssNow,
    afterRssBytes: after.rssNow,
    afterHeapTotalBytes: after.heapTotalNow,
    peakRssBytes: after.rss,
    answersMs,
  };
}

/** The least-squares slope of peak RSS over stream count, in bytes per stream. */
export function bytesPerStream(samples: MemorySample[]): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mx = samples.reduce((s, x) => s + x.streams, 0) / n;
  const my = samples.reduce((s, x) => s + x.peakRssBytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.streams - mx) * (s.peakRssBytes - my);
    den += (s.streams - mx) ** 2;
  }
  return num / den;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function say(text: string): Promise<void> {
  await Deno.stdout.write(new TextEncoder().encode(`${text}\n`));
}

async function sayLargeAnswers(answers: number, repeat: number, denoFlags: string[]) {
  for (let run = 0; run < repeat; run++) {
    const s = await measureLargeAnswers({
      answers,
      textChars: 5 * 1024 * 1024,
      settleMs: 2_000,
      denoFlags,
    });
    await say(
      `large answers: idle ${mib(s.idleRssBytes)}, after ${mib(s.afterRssBytes)} (+${
        mib(s.afterRssBytes - s.idleRssBytes)
      }, heap ${mib(s.afterHeapTotalBytes)}), peak ${mib(s.peakRssBytes)}, ${
        s.answersMs.toFixed(0)
      } ms`,
    );
  }
}

async function sayStreams(options: MemoryOptions): Promise<void> {
  const samples = await measureMemory(options);
  const lines = samples.map((s) =>
    `${String(s.streams).padStart(5)} streams: idle ${mib(s.idleRssBytes)}, peak ${
      mib(s.peakRssBytes)
    } (heap ${mib(s.heapTotalBytes)}, used ${mib(s.heapUsedBytes)}, external ${
      mib(s.externalBytes)
    }), ${s.totalMs.toFixed(0)} ms (gateway CPU ${s.cpuMs.toFixed(0)} ms), ${s.errors} errors`
  );
  lines.push(`slope: ${(bytesPerStream(samples) / 1024).toFixed(1)} KiB per stream`);
  await say(lines.join("\n"));
}

if (import.meta.main) {
  const split = Deno.args.indexOf("--");
  const own = split < 0 ? Deno.args : Deno.args.slice(0, split);
  const denoFlags = split < 0 ? [] : Deno.args.slice(split + 1);
  const option = (name: string) =>
    own.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const repeat = Number(option("repeat") ?? "1");
  if (own.includes("--large") || option("large") !== undefined) {
    await sayLargeAnswers(Number(option("large") ?? "3"), repeat, denoFlags);
  } else {
    const counts = (option("streams") ?? "250,500,1000").split(",").map(Number);
    await sayStreams({
      streams: Array.from({ length: repeat }, () => counts).flat(),
      textChars: Number(option("chars") ?? "4000"),
      pacedMs: Number(option("paced-ms") ?? "0"),
      passthrough: own.includes("--passthrough") || option("passthrough") === "js",
      throughJs: option("passthrough") === "js",
      historyChars: Number(option("history-chars") ?? "0"),
      denoFlags,
    });
  }
}
