/**
 * The real gateway in its own process for benchmarks, so its memory and CPU are its own.
 * Run as a script it serves a gateway for the upstream named in its JSON argument and prints
 * `listening <url>`; imported, spawnBenchGateway starts and stops such a process.
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createGateway } from "../src/app.ts";
import { MemoryState } from "../src/state/state.ts";
import { openSqliteState } from "../src/state/sqlite.ts";
import { type Config, defaultConfig } from "../src/config.ts";
import { Logger } from "../src/log.ts";
import { GENERATE_PATH } from "./upstream.ts";

/** Children run the `deno` on PATH, so the task can grant `--allow-run=deno` only. */
const DENO = "deno";

/**
 * The V8 flags every deno.json task runs the gateway with (README: Running it), so the
 * benchmark measures the gateway as deployed; `--v8-flags=--no-expose-gc` in `denoFlags` turns
 * the heap trimmer off again for an A/B run.
 */
export const GATEWAY_V8_FLAGS = "--v8-flags=--expose-gc";

/** The key benchmark clients use. */
export const BENCH_KEY = "bench-key";

/** What the gateway process is told. */
export interface BenchGatewaySettings {
  upstreamUrl: string;
  fakeReasoning: boolean;
  /**
   * Serve a bare pass-through instead of the gateway: every request is answered with the
   * upstream's chat body as it comes. It shows what the runtime alone spends per stream
   * (sockets, HTTP state, one fetch), the floor under the gateway's own cost.
   */
  passthrough?: boolean;
  /**
   * With `passthrough`: the upstream's body goes through JavaScript, read chunk by chunk into
   * one reused buffer and handed to a stream of the gateway's own, as the gateway's pipe does
   * with nothing in between: the floor under the gateway's cost per read.
   */
  throughJs?: boolean;
  /**
   * Keep the gateway's state in SQLite in this folder, as `deno task start` does by default,
   * instead of in memory.
   */
  stateDir?: string;
}

/** How to start the gateway process. */
export interface SpawnBenchOptions {
  /** Extra flags for `deno run`, such as `--cpu-prof`. */
  denoFlags?: string[];
}

/** A gateway subprocess. */
export interface BenchGateway extends AsyncDisposable {
  url: string;
  pid: number;
  /** The process's peak resident set size so far, in bytes. */
  peakRssBytes(): Promise<number>;
  /** Peaks so far of RSS, V8 heap (total and used) and external memory, in bytes. */
  memoryPeaks(): Promise<MemoryPeaks>;
}

/** Peaks of the gateway process's memory figures, sampled, in bytes. */
export interface MemoryPeaks {
  rss: number;
  /** The RSS when asked (not a peak). */
  rssNow: number;
  /** The V8 heap total when asked (not a peak). */
  heapTotalNow: number;
  /** CPU time (user and system) the process has spent so far, in ms (not a peak). */
  cpuMs: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** How often the gateway process samples its RSS. */
const RSS_SAMPLE_MS = 20;

/** Starts the gateway process and resolves once it listens; rejects if it exits first. */
export async function spawnBenchGateway(
  settings: BenchGatewaySettings,
  options: SpawnBenchOptions = {},
): Promise<BenchGateway> {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      ...settings.stateDir ? [`--allow-write=${settings.stateDir}`] : [],
      GATEWAY_V8_FLAGS,
      ...options.denoFlags ?? [],
      fileURLToPath(import.meta.url),
      JSON.stringify(settings),
    ],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await lines.read();
    if (done) throw new Error("The benchmark gateway exited before listening");
    seen += value;
    url = seen.match(/listening (http:\/\/\S+)\n/)?.[1];
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  const gatewayUrl = url;
  const memoryPeaks = async (): Promise<MemoryPeaks> => {
    const res = await fetch(`${gatewayUrl}/__bench/memory`);
    return await res.json() as MemoryPeaks;
  };
  return {
    url: gatewayUrl,
    pid: child.pid,
    async peakRssBytes() {
      return (await memoryPeaks()).rss;
    },
    memoryPeaks,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}

/** The gateway configuration for benchmarks: every Kiro URL on the benchmark upstream. */
export function benchConfig(settings: BenchGatewaySettings): Readonly<Config> {
  const url = settings.upstreamUrl;
  return defaultConfig({
    proxyApiKey: BENCH_KEY,
    proxyApiKeyGenerated: false,
    refreshToken: "bench-refresh",
    profileArn: "arn:aws:codewhisperer:us-east-1:123456789012:profile/BENCH",
    upstream: { api: url, auth: url, management: url, oidc: url },
    fakeReasoning: settings.fakeReasoning,
  });
}

async function serveBenchGateway(settings: BenchGatewaySettings): Promise<void> {
  const config = benchConfig(settings);
  // Info level as deployed, so log formatting is measured; lines are dropped, errors kept.
  const logger = new Logger({
    level: "info",
    write: (line, level) => {
      if (level === "error") Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
    },
  });
  const gateway = settings.passthrough
    ? passthroughGateway(settings.upstreamUrl, settings.throughJs ?? false)
    : await createGateway(config, {
      logger,
      homeDir: "/nonexistent-home",
      state: settings.stateDir ? openSqliteState(settings.stateDir) : new MemoryState(),
      // As main.ts runs it: every reply can be cut at the end of a shutdown grace period.
      deps: { shutdown: new AbortController().signal },
    });
  // Sampled: /proc/self/status (VmHWM) would need --allow-all. A sample costs a few µs.
  const peaks: MemoryPeaks = {
    rss: 0,
    rssNow: 0,
    heapTotalNow: 0,
    cpuMs: 0,
    heapTotal: 0,
    heapUsed: 0,
    external: 0,
  };
  const sample = () => {
    const now = Deno.memoryUsage();
    peaks.rssNow = now.rss;
    peaks.heapTotalNow = now.heapTotal;
    peaks.rss = Math.max(peaks.rss, now.rss);
    peaks.heapTotal = Math.max(peaks.heapTotal, now.heapTotal);
    peaks.heapUsed = Math.max(peaks.heapUsed, now.heapUsed);
    peaks.external = Math.max(peaks.external, now.external);
  };
  sample();
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen({ port }) {
      Deno.stdout.writeSync(new TextEncoder().encode(`listening http://127.0.0.1:${port}\n`));
    },
  }, (req) => {
    if (new URL(req.url).pathname === "/__bench/memory") {
      sample();
      const cpu = process.cpuUsage();
      peaks.cpuMs = (cpu.user + cpu.system) / 1000;
      return Response.json(peaks);
    }
    return gateway.handler(req);
  });
  const stop = () => {
    clearInterval(sampler);
    void server.shutdown();
  };
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  await gateway.close();
}

function passthroughGateway(
  upstreamUrl: string,
  throughJs: boolean,
): { handler: Handler; close(): Promise<void> } {
  return {
    async handler(req) {
      await req.body?.cancel();
      const upstream = await fetch(`${upstreamUrl}${GENERATE_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/x-amz-json-1.0" },
        body: "{}",
        signal: req.signal,
      });
      const body = throughJs ? copiedThroughJs(upstream.body!) : upstream.body;
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
    close: () => Promise.resolve(),
  };
}

/** `body` read into one reused 4 KiB buffer and each chunk copied into a stream of its own. */
function copiedThroughJs(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader({ mode: "byob" });
  let buffer = new Uint8Array(4096);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read(buffer);
      if (done) return controller.close();
      buffer = new Uint8Array(value.buffer);
      controller.enqueue(value.slice());
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

type Handler = (req: Request) => Promise<Response>;

if (import.meta.main) await serveBenchGateway(JSON.parse(Deno.args[0] ?? "{}"));
