/**
 * The measurements behind bench/run.ts. Each one runs its baseline and the gateway in the
 * same call, alternating, and reports medians, so a noisy machine shifts both alike.
 */
import { BENCH_KEY } from "./gateway_process.ts";
import { buildDeltas } from "./reply_frames.ts";
import { GENERATE_PATH } from "./upstream.ts";

/** The API dialects a client can speak to the gateway. */
export type Dialect = "openai" | "anthropic" | "responses";

/** Timing of one streamed answer as its client saw it. */
export interface StreamTiming {
  /** From sending the request to the first body byte, in ms. */
  ttfbMs: number;
  /** From sending the request to the end of the body, in ms. */
  totalMs: number;
  /** Body bytes read. */
  bytes: number;
  /** With `keepTail`, the end of the body as text (up to two chunks), to check how it ended. */
  tail: string;
}

/** Medians of direct and gateway timings over the same runs. */
export interface LatencyResult {
  runs: number;
  direct: StreamTiming;
  gateway: StreamTiming;
}

/** Where a measurement sends its requests. */
export interface Targets {
  /** The upstream, read directly by the baseline client. */
  upstreamUrl: string;
  /** The gateway in front of that upstream. */
  gatewayUrl: string;
}

/** The median of `values` (the upper one of an even count). */
export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Sends a request and reads its body to the end, timing the first byte and the end. */
export async function timeStream(
  input: string,
  init: RequestInit,
  keepTail = false,
): Promise<StreamTiming> {
  const decoder = new TextDecoder();
  const start = performance.now();
  const res = await fetch(input, init);
  if (res.status !== 200) {
    const text = await res.text();
    throw new Error(`Benchmark request failed: ${res.status} ${text.slice(0, 200)}`);
  }
  // A BYOB reader into one reused buffer: the default reader allocates 64 KiB per read, which
  // would make the client, not the server, the bottleneck when the body comes in small chunks.
  const reader = res.body!.getReader({ mode: "byob" });
  let buffer = new Uint8Array(64 * 1024);
  let ttfbMs = -1;
  let bytes = 0;
  let last = "";
  let previous = "";
  while (true) {
    const { done, value } = await reader.read(buffer);
    if (value) buffer = new Uint8Array(value.buffer);
    if (done) break;
    if (ttfbMs < 0) ttfbMs = performance.now() - start;
    bytes += value.byteLength;
    if (keepTail) {
      previous = last;
      last = decoder.decode(value);
    }
  }
  const totalMs = performance.now() - start;
  return { ttfbMs, totalMs, bytes, tail: (previous + last).slice(-1024) };
}

/** The request a baseline client sends straight to the upstream. */
export function directRequest(upstreamUrl: string): [string, RequestInit] {
  return [`${upstreamUrl}${GENERATE_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({ conversationState: { currentMessage: { userInputMessage: {} } } }),
  }];
}

/** Options of gatewayRequest. */
export interface GatewayRequestOptions {
  /** Ask for thinking (Anthropic). */
  thinking?: boolean;
  /** Characters of earlier conversation sent before the question, to make a large payload. */
  historyChars?: number;
}

/** A streaming chat request to the gateway in `dialect`. */
export function gatewayRequest(
  gatewayUrl: string,
  dialect: Dialect,
  options: GatewayRequestOptions = {},
): [string, RequestInit] {
  const { thinking = false, historyChars = 0 } = options;
  const history = historyChars > 0
    ? [
      { role: "user", content: "Earlier question." },
      { role: "assistant", content: buildDeltas(historyChars).join("") },
    ]
    : [];
  const messages = [...history, { role: "user", content: "Write a long answer." }];
  if (dialect === "openai") {
    return [`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4.5", messages, stream: true }),
    }];
  }
  if (dialect === "responses") {
    return [`${gatewayUrl}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4.5",
        input: messages.map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        store: false,
      }),
    }];
  }
  return [`${gatewayUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": BENCH_KEY,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
    },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      max_tokens: 64_000,
      messages,
      stream: true,
      ...(thinking ? { thinking: { type: "enabled", budget_tokens: 4096 } } : {}),
    }),
  }];
}

/** Options of measureLatency. */
export interface LatencyOptions {
  dialect: Dialect;
  runs: number;
  warmups?: number;
  thinking?: boolean;
}

/**
 * Streams the upstream's current answer `runs` times directly and `runs` times through the
 * gateway, alternating, and returns the medians of each side.
 */
export async function measureLatency(
  targets: Targets,
  options: LatencyOptions,
): Promise<LatencyResult> {
  const direct = directRequest(targets.upstreamUrl);
  const viaGateway = gatewayRequest(targets.gatewayUrl, options.dialect, {
    thinking: options.thinking,
  });
  for (let i = 0; i < (options.warmups ?? 10); i++) {
    await timeStream(...direct);
    await timeStream(...viaGateway);
  }
  const directRuns: StreamTiming[] = [];
  const gatewayRuns: StreamTiming[] = [];
  for (let i = 0; i < options.runs; i++) {
    // Which side goes first alternates too, so neither always follows the other's garbage.
    if (i % 2 === 0) {
      directRuns.push(await timeStream(...direct));
      gatewayRuns.push(await timeStream(...viaGateway));
    } else {
      gatewayRuns.push(await timeStream(...viaGateway));
      directRuns.push(await timeStream(...direct));
    }
  }
  return {
    runs: options.runs,
    direct: medianTiming(directRuns),
    gateway: medianTiming(gatewayRuns),
  };
}

function medianTiming(runs: StreamTiming[]): StreamTiming {
  return {
    ttfbMs: median(runs.map((r) => r.ttfbMs)),
    totalMs: median(runs.map((r) => r.totalMs)),
    bytes: median(runs.map((r) => r.bytes)),
    tail: runs.at(-1)?.tail ?? "",
  };
}

/** Upstream answer bytes per second, directly and through the gateway. */
export interface ThroughputResult {
  answerBytes: number;
  directMBps: number;
  gatewayMBps: number;
}

/**
 * Streams the upstream's current answer (`answerBytes` long) `runs` times each way, alternating,
 * and returns the median rates in MB (10^6 bytes) of upstream answer per second.
 */
export async function measureThroughput(
  targets: Targets,
  options: { answerBytes: number; runs: number; dialect?: Dialect },
): Promise<ThroughputResult> {
  const latency = await measureLatency(targets, {
    dialect: options.dialect ?? "openai",
    runs: options.runs,
    warmups: 1,
  });
  const rate = (ms: number) => options.answerBytes / 1e6 / (ms / 1000);
  return {
    answerBytes: options.answerBytes,
    directMBps: rate(latency.direct.totalMs),
    gatewayMBps: rate(latency.gateway.totalMs),
  };
}

/** How a successful stream ends in each dialect: a stop reason, then the last event. */
const COMPLETE_TAIL =
  /"finish_reason":"stop"[^\n]*\n\ndata: \[DONE\]\n\n$|"stop_reason":"end_turn"[\s\S]*event: message_stop\n|"total_tokens":\d+\},"user":null\},"sequence_number":\d+\}\n\n$/;

/** The outcome of many streams at once. */
export interface ConcurrencyResult {
  streams: number;
  errors: number;
  /** The first error message, if any. */
  firstError?: string;
  totalMs: number;
  peakRssBytes: number;
}

/**
 * Opens `streams` streaming chats through the gateway at `url` (or, with `direct`, answers of
 * the upstream at `url`) at once and reads them all; counts the ones that fail, end without a
 * clean finish or do not finish within `timeoutMs`, then asks `peakRss` for the peak.
 */
export async function measureConcurrency(
  url: string,
  options: {
    streams: number;
    timeoutMs: number;
    dialect?: Dialect;
    /** Characters of conversation history each request carries (see gatewayRequest). */
    historyChars?: number;
    peakRss: () => Promise<number>;
    /** Read the upstream at `url` directly (the baseline) instead of a gateway. */
    direct?: boolean;
  },
): Promise<ConcurrencyResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const [input, init] = options.direct
    ? directRequest(url)
    : gatewayRequest(url, options.dialect ?? "openai", { historyChars: options.historyChars });
  const start = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: options.streams }, async () => {
      const timing = await timeStream(input, { ...init, signal: deadline }, true);
      if (!options.direct && !COMPLETE_TAIL.test(timing.tail)) {
        throw new Error(`Stream did not end cleanly: ${timing.tail.slice(-200)}`);
      }
      return timing;
    }),
  );
  const totalMs = performance.now() - start;
  const failures = outcomes.filter((o) => o.status === "rejected");
  const first = failures[0];
  return {
    streams: options.streams,
    errors: failures.length,
    firstError: first ? String(first.reason) : undefined,
    totalMs,
    peakRssBytes: await options.peakRss(),
  };
}
