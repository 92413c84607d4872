/**
 * A/B runs of the streaming loads: the client reading the upstream directly, the gateway of
 * this checkout, the gateway of another checkout (`--base=DIR`, e.g. a `git worktree` of the
 * previous commit), the bare pass-through and the pass-through through JavaScript, each
 * gateway in its own process against one upstream, alternating request by request so a noisy
 * machine shifts every side alike. Prints medians per side.
 *
 * `deno run -A --config deno.test.json bench/ab.ts --base=../base [--runs=60]
 * [--loads=latency,throughput,first,paced] [--dialects=openai,...] [--sqlite]`
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { type BenchGateway, spawnBenchGateway } from "./gateway_process.ts";
import { type Dialect, directRequest, gatewayRequest, median, timeStream } from "./measure.ts";
import { buildDeltas, buildReplyFrames, toChunks } from "./reply_frames.ts";
import { startBenchUpstream } from "./upstream.ts";

interface Side {
  name: string;
  /** The gateway, or none for the client reading the upstream directly. */
  gateway?: BenchGateway;
}

/** What one load sends and how many runs it takes. */
interface Load {
  name: string;
  frames: Uint8Array[];
  intervalMs?: number;
  runs: number;
}

function loads(runs: number): Load[] {
  const paced = buildDeltas(500 * 60).slice(0, 500).join("").length;
  return [
    {
      name: "latency",
      frames: buildReplyFrames({ textChars: 200_000, deltaChars: 64 }),
      runs,
    },
    {
      name: "throughput",
      frames: toChunks(buildReplyFrames({ textChars: 5 * 1024 * 1024 }), 16 * 1024),
      runs: Math.max(3, Math.floor(runs / 10)),
    },
    {
      // The time to first byte of a short paced answer, many times (the paced load's first byte
      // with 20 frames instead of 500, so each run takes ~40 ms).
      name: "first",
      frames: buildReplyFrames({ textChars: buildDeltas(20 * 60).slice(0, 20).join("").length }),
      intervalMs: 2,
      runs,
    },
    {
      name: "paced",
      frames: buildReplyFrames({ textChars: paced }),
      intervalMs: 2,
      runs: Math.max(3, Math.floor(runs / 10)),
    },
  ];
}

/** Starts the gateway of the checkout at `dir` (its bench/gateway_process.ts). */
async function spawnFrom(
  dir: string,
  upstreamUrl: string,
  passthrough = false,
): Promise<BenchGateway> {
  const module = await import(`file://${join(resolve(dir), "bench/gateway_process.ts")}`) as {
    spawnBenchGateway: typeof spawnBenchGateway;
  };
  return await module.spawnBenchGateway({ upstreamUrl, fakeReasoning: false, passthrough });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      base: { type: "string" },
      runs: { type: "string", default: "60" },
      loads: { type: "string", default: "latency,throughput,paced" },
      dialects: { type: "string", default: "openai,anthropic,responses" },
      /** Also run this checkout with its state in SQLite (the default of `deno task start`). */
      sqlite: { type: "boolean", default: false },
    },
  });
  await using upstream = startBenchUpstream();
  const sides: Side[] = [
    { name: "direct" },
    {
      name: "this",
      gateway: await spawnBenchGateway({ upstreamUrl: upstream.url, fakeReasoning: false }),
    },
  ];
  if (values.sqlite) {
    const stateDir = await Deno.makeTempDir({ dir: ".test-tmp", prefix: "ab-state-" });
    sides.push({
      name: "sqlite",
      gateway: await spawnBenchGateway({
        upstreamUrl: upstream.url,
        fakeReasoning: false,
        stateDir,
      }),
    });
  }
  if (values.base) {
    sides.push({ name: "base", gateway: await spawnFrom(values.base, upstream.url) });
  }
  sides.push({
    name: "pass",
    gateway: await spawnBenchGateway({
      upstreamUrl: upstream.url,
      fakeReasoning: false,
      passthrough: true,
    }),
  });
  sides.push({
    name: "js-pass",
    gateway: await spawnBenchGateway({
      upstreamUrl: upstream.url,
      fakeReasoning: false,
      passthrough: true,
      throughJs: true,
    }),
  });
  const wanted = new Set(values.loads.split(","));
  try {
    for (const load of loads(Number(values.runs)).filter((l) => wanted.has(l.name))) {
      upstream.setReply(load.frames, load.intervalMs ? { intervalMs: load.intervalMs } : undefined);
      for (const dialect of values.dialects.split(",") as Dialect[]) {
        const totals = new Map<string, number[]>(sides.map((s) => [s.name, []]));
        const ttfbs = new Map<string, number[]>(sides.map((s) => [s.name, []]));
        for (let i = -2; i < load.runs; i++) {
          const order = i % 2 === 0 ? sides : sides.toReversed();
          for (const side of order) {
            const t = await timeStream(
              ...side.gateway
                ? gatewayRequest(side.gateway.url, dialect)
                : directRequest(upstream.url),
            );
            if (i < 0) continue;
            totals.get(side.name)!.push(t.totalMs);
            ttfbs.get(side.name)!.push(t.ttfbMs);
          }
        }
        const cells = sides.map((s) =>
          `${s.name} ${median(totals.get(s.name)!).toFixed(2)} ms (first byte ${
            median(ttfbs.get(s.name)!).toFixed(2)
          })`
        );
        const line = `${load.name} ${dialect} ×${load.runs}: ${cells.join(" | ")}\n`;
        await Deno.stdout.write(new TextEncoder().encode(line));
      }
    }
  } finally {
    for (const side of sides) await side.gateway?.[Symbol.asyncDispose]();
  }
}

if (import.meta.main) await main();
