/**
 * Cold start of the real gateway: `src/main.ts --demo --port 0` in a fresh process, timed from
 * spawn to its listening line and to the first `/health` 200. No fixed sleeps: the clock stops
 * on what the process prints and answers.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoDir } from "../tests/ops/gateway_process.ts";
import { median } from "./measure.ts";

/** Children run the `deno` on PATH, so the task can grant `--allow-run=deno` only. */
const DENO = "deno";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const LISTENING = /listening on (http:\/\/\S+)/;

/** Median milliseconds from spawn to the listening line and to the first /health 200. */
export interface ColdStartResult {
  runs: number;
  listeningMs: number;
  healthMs: number;
}

/** Starts the demo gateway `runs` times in `workDir` (a scratch folder) and times each start. */
export async function measureColdStart(
  options: { runs: number; workDir: string; timeoutMs?: number },
): Promise<ColdStartResult> {
  const home = join(options.workDir, "home");
  await Deno.mkdir(home, { recursive: true });
  const listening: number[] = [];
  const health: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const run = await startOnce(options.workDir, home, options.timeoutMs ?? 30_000);
    listening.push(run.listeningMs);
    health.push(run.healthMs);
  }
  return { runs: options.runs, listeningMs: median(listening), healthMs: median(health) };
}

async function startOnce(
  cwd: string,
  home: string,
  timeoutMs: number,
): Promise<{ listeningMs: number; healthMs: number }> {
  const start = performance.now();
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--config",
      join(REPO_ROOT, "deno.json"),
      "--allow-net",
      "--allow-sys=hostname",
      "--allow-env",
      "--allow-read",
      `--allow-write=${cwd}`,
      join(REPO_ROOT, "src", "main.ts"),
      "--demo",
      "--port",
      "0",
    ],
    cwd,
    env: { HOME: home, DENO_DIR: denoDir(), NO_COLOR: "1", PROXY_API_KEY: "bench-cold-start" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const found = await Promise.any([
      firstMatch(child.stdout, LISTENING),
      firstMatch(child.stderr, LISTENING),
    ]).catch(() => undefined);
    if (found === undefined) throw new Error("The gateway exited before its listening line");
    const listeningMs = performance.now() - start;
    let healthMs = -1;
    while (healthMs < 0) {
      if (performance.now() - start > timeoutMs) throw new Error("/health never answered 200");
      const res = await fetch(`${found}/health`).catch(() => undefined);
      await res?.body?.cancel();
      if (res?.status === 200) healthMs = performance.now() - start;
    }
    return { listeningMs, healthMs };
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
  }
}

/**
 * Reads `stream` until a line matches `pattern` and resolves with its first group; keeps
 * draining afterwards so the child never blocks; rejects when the stream ends first.
 */
function firstMatch(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  (async () => {
    let seen = "";
    let matched = false;
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      if (matched) continue;
      seen += text;
      const group = seen.match(pattern)?.[1];
      if (group !== undefined) {
        matched = true;
        resolve(group);
      }
    }
    if (!matched) reject(new Error("No match before the end of the output"));
  })().catch(reject);
  return promise;
}
