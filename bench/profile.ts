/**
 * Profiles the gateway process under one benchmark load and prints where its CPU time went:
 * `deno run ... bench/profile.ts [latency|thinking|throughput|requests|concurrency] [dir]`. The `.cpuprofile`
 * stays in `dir` (default `.test-tmp/profile`) for a closer look in a profiler.
 */
import { join } from "node:path";
import { spawnBenchGateway } from "./gateway_process.ts";
import { gatewayRequest, measureConcurrency, timeStream } from "./measure.ts";
import { buildReplyFrames, toChunks } from "./reply_frames.ts";
import { startBenchUpstream } from "./upstream.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function of a V8 `.cpuprofile`, largest first, in ms. */
export function selfTimes(profile: CpuProfile): { name: string; ms: number; share: number }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const deltaUs = profile.timeDeltas[i] ?? 0;
    all += deltaUs;
    if (!frame) return;
    const file = frame.url.replace(/^.*\/(src|bench|tests|ext:|node:)/, "$1");
    const name = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    totals.set(name, (totals.get(name) ?? 0) + deltaUs);
  });
  return [...totals].map(([name, us]) => ({ name, ms: us / 1000, share: us / all }))
    .toSorted((a, b) => b.ms - a.ms);
}

async function main(load: string, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await using upstream = startBenchUpstream();
  const gateway = await spawnBenchGateway(
    { upstreamUrl: upstream.url, fakeReasoning: load === "thinking" },
    { denoFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`] },
  );
  try {
    if (load === "throughput") {
      upstream.setReply(toChunks(buildReplyFrames({ textChars: 1_000_000 }), 16 * 1024));
      for (let i = 0; i < 5; i++) await timeStream(...gatewayRequest(gateway.url, "openai"));
    } else if (load === "requests") {
      upstream.setReply(toChunks(buildReplyFrames({ textChars: 100 })));
      for (let i = 0; i < 1000; i++) await timeStream(...gatewayRequest(gateway.url, "openai"));
    } else if (load === "concurrency") {
      upstream.setReply(toChunks(buildReplyFrames({ textChars: 4_000 })));
      await measureConcurrency(gateway.url, {
        streams: 500,
        timeoutMs: 60_000,
        peakRss: () => Promise.resolve(0),
      });
    } else {
      const thinking = load === "thinking";
      upstream.setReply(
        toChunks(buildReplyFrames({ textChars: 200_000, thinkingChars: thinking ? 4000 : 0 })),
      );
      for (let i = 0; i < 40; i++) {
        await timeStream(
          ...gatewayRequest(gateway.url, i % 2 ? "openai" : "anthropic", { thinking }),
        );
      }
    }
  } finally {
    await gateway[Symbol.asyncDispose]();
  }
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".cpuprofile")) files.push(join(dir, entry.name));
  }
  const newest = files.toSorted().at(-1);
  if (!newest) throw new Error(`No .cpuprofile was written to ${dir}`);
  const rows = selfTimes(JSON.parse(await Deno.readTextFile(newest)));
  const byFile = new Map<string, number>();
  for (const row of rows) {
    const file = row.name.split(" ").at(-1)!.replace(/:\d+$/, "");
    byFile.set(file, (byFile.get(file) ?? 0) + row.ms);
  }
  const format = (ms: number, name: string) => `${ms.toFixed(1).padStart(9)} ms  ${name}`;
  const lines = [
    "By function (self time):",
    ...rows.slice(0, 30).map((r) => format(r.ms, r.name)),
    "By file (self time):",
    ...[...byFile].toSorted((a, b) => b[1] - a[1]).slice(0, 20).map(([f, ms]) => format(ms, f)),
  ];
  await Deno.stdout.write(new TextEncoder().encode(`${newest}\n${lines.join("\n")}\n`));
}

if (import.meta.main) {
  await main(Deno.args[0] ?? "latency", Deno.args[1] ?? ".test-tmp/profile");
}
