import assert from "node:assert/strict";
import { createGateway } from "../src/app.ts";
import { silentLogger } from "../src/log.ts";
import { measureColdStart } from "../bench/cold_start.ts";
import { benchConfig } from "../bench/gateway_process.ts";
import {
  directRequest,
  measureConcurrency,
  measureLatency,
  measureThroughput,
  timeStream,
} from "../bench/measure.ts";
import { bytesPerStream, type MemorySample } from "../bench/memory.ts";
import { measurePipeline, pipeBody } from "../bench/pipeline.ts";
import { selfTimes } from "../bench/profile.ts";
import { buildDeltas, buildReplyFrames, byteLength, toChunks } from "../bench/reply_frames.ts";
import { HAND_WRITTEN_MARKER, mergeBenchmarks, renderGenerated } from "../bench/report.ts";
import { startBenchUpstream } from "../bench/upstream.ts";
import { tempDir, within } from "./helpers.ts";
import { MemoryState } from "../src/state/state.ts";

Deno.test("the in-process pipe renders the whole reply in every dialect and is timed", async () => {
  const frames = buildReplyFrames({ textChars: 300, deltaChars: 64 });
  const text = buildDeltas(300).join("");
  for (const dialect of ["openai", "anthropic", "responses"] as const) {
    const sse = await new Response(pipeBody(dialect, toChunks(frames, 100))).text();
    const deltas = [...sse.matchAll(/"(?:content|text|delta)":"([^"]*)"/g)].map((m) => m[1]);
    assert.ok(deltas.join("").includes(text), `${dialect} carried the whole text`);
    const result = await within(measurePipeline(dialect, frames, 2));
    assert.ok(result.pipeMs > 0 && result.bareMs >= 0, JSON.stringify(result));
  }
});

Deno.test("the benchmark measurements run end to end on tiny sizes", async (t) => {
  await using upstream = startBenchUpstream();
  const gateway = await createGateway(
    benchConfig({ upstreamUrl: upstream.url, fakeReasoning: false }),
    { logger: silentLogger(), homeDir: "/nonexistent-home", state: new MemoryState() },
  );
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gateway.handler);
  const targets = { upstreamUrl: upstream.url, gatewayUrl: `http://127.0.0.1:${server.addr.port}` };
  try {
    const frames = buildReplyFrames({ textChars: 2_000 });
    upstream.setReply(toChunks(frames));
    for (const dialect of ["openai", "anthropic", "responses"] as const) {
      await t.step(`latency through the ${dialect} dialect is measured on both sides`, async () => {
        const result = await within(measureLatency(targets, { dialect, runs: 2, warmups: 1 }));
        assert.equal(result.direct.bytes, byteLength(frames));
        assert.ok(result.gateway.bytes > 2_000, "the gateway sent the answer as SSE");
        assert.ok(result.gateway.ttfbMs > 0 && result.gateway.ttfbMs <= result.gateway.totalMs);
      });
    }
    await t.step("throughput is reported in MB of answer per second", async () => {
      upstream.setReply(toChunks(frames, 1024));
      const result = await within(measureThroughput(targets, { answerBytes: 2_000, runs: 1 }));
      assert.ok(result.directMBps > 0 && result.gatewayMBps > 0);
    });
    await t.step("concurrent streams all finish cleanly", async () => {
      upstream.setReply(toChunks(frames));
      const result = await within(measureConcurrency(targets.gatewayUrl, {
        streams: 5,
        timeoutMs: 4_000,
        peakRss: () => Promise.resolve(123),
      }));
      assert.equal(result.errors, 0, result.firstError);
      assert.equal(result.peakRssBytes, 123);
      const responses = await within(measureConcurrency(targets.gatewayUrl, {
        streams: 2,
        timeoutMs: 4_000,
        dialect: "responses",
        peakRss: () => Promise.resolve(0),
      }));
      assert.equal(responses.errors, 0, responses.firstError);
    });
    await t.step("answers of fixed-size deltas cut the text evenly", () => {
      const fixed = buildReplyFrames({ textChars: 200, deltaChars: 64 });
      assert.equal(fixed.length, 4 + 2, "64 + 64 + 64 + 8 characters, metering, context usage");
    });
    await t.step("a stream that does not end with a stop counts as an error", async () => {
      upstream.setReply(toChunks(frames.slice(0, 3)));
      const result = await within(measureConcurrency(targets.gatewayUrl, {
        streams: 2,
        timeoutMs: 4_000,
        peakRss: () => Promise.resolve(0),
      }));
      assert.equal(result.errors, 2);
    });
  } finally {
    await server.shutdown();
    await gateway.close();
  }
});

Deno.test("a paced upstream sends chunk i no earlier than i intervals after the first", async () => {
  await using upstream = startBenchUpstream();
  const frames = buildReplyFrames({ textChars: 100 });
  upstream.setReply(toChunks(frames), { intervalMs: 25 });
  const timing = await within(timeStream(...directRequest(upstream.url)));
  assert.equal(timing.bytes, byteLength(frames));
  // Timers wait at least their interval on a millisecond clock, so the last chunk cannot come
  // before (n − 1) intervals, less a millisecond of rounding (seen: 74.97 ms for 75).
  assert.ok(timing.totalMs >= (frames.length - 1) * 25 - 1, `${timing.totalMs} ms`);
  assert.ok(timing.ttfbMs < timing.totalMs - 25, "the first chunk was not held back");
});

Deno.test("the cost per stream is the slope of peak RSS over the stream count", () => {
  const sample = (streams: number, peakRssBytes: number): MemorySample => ({
    streams,
    idleRssBytes: 0,
    peakRssBytes,
    heapTotalBytes: 0,
    heapUsedBytes: 0,
    externalBytes: 0,
    totalMs: 0,
    cpuMs: 0,
    errors: 0,
  });
  const mib = 1024 * 1024;
  const slope = bytesPerStream([sample(250, 100 * mib), sample(1000, 250 * mib)]);
  assert.ok(Math.abs(slope - 0.2 * mib) < 1, String(slope));
  assert.ok(Number.isNaN(bytesPerStream([sample(1000, mib)])));
});

Deno.test("the demo gateway's cold start is timed to its first /health 200", async () => {
  await using tmp = await tempDir();
  const result = await within(measureColdStart({ runs: 1, workDir: tmp.path }), 30_000);
  assert.ok(result.listeningMs > 0 && result.healthMs >= result.listeningMs);
});

Deno.test("benchmark answers are deltas of 20 to 60 characters", () => {
  const deltas = buildDeltas(10_000);
  assert.equal(deltas.join("").length, 10_000);
  assert.ok(deltas.slice(0, -1).every((d) => d.length >= 20 && d.length <= 60));
});

Deno.test("regenerating BENCHMARKS.md keeps the hand-written part", () => {
  const machine = {
    date: "2025-01-01 00:00 UTC",
    cores: 2,
    cpuModel: "test CPU",
    memoryGiB: 4,
    os: "linux x86_64",
    deno: "2.0.0",
  };
  const row = {
    benchmark: "b",
    baseline: "1",
    gateway: "2",
    difference: "+1",
    goal: "≤ 1",
    met: true,
  };
  const first = renderGenerated(machine, [row], ["a note"]);
  const edited = `${first}\n## Changes\n\nHand-written text.\n`;
  const second = mergeBenchmarks(renderGenerated(machine, [{ ...row, gateway: "3" }], []), edited);
  assert.match(second, /\| b \| 1 \| 3 \| \+1 \| ≤ 1 \| yes \|/);
  assert.equal(second.split(HAND_WRITTEN_MARKER).length, 2);
  assert.ok(second.endsWith("## Changes\n\nHand-written text.\n"));
});

Deno.test("self time per function is summed from a CPU profile", () => {
  const rows = selfTimes({
    nodes: [
      { id: 1, callFrame: { functionName: "hot", url: "file:///x/src/a.ts", lineNumber: 9 } },
      { id: 2, callFrame: { functionName: "", url: "", lineNumber: 0 } },
    ],
    samples: [1, 1, 2],
    timeDeltas: [1000, 3000, 1000],
  });
  assert.deepEqual(rows[0], { name: "hot src/a.ts:10", ms: 4, share: 0.8 });
});
