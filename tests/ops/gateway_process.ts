/**
 * Runs the real gateway as a subprocess with the exact permission flags of a deno.json task,
 * in a temporary working folder with its own HOME, and waits for its "listening" line.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type FakeKiro, startFakeKiro } from "../fake_kiro.ts";
import { within } from "../helpers.ts";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The deno.json tasks. */
export function readTasks(): Record<string, string> {
  const config = JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "deno.json")));
  return config.tasks as Record<string, string>;
}

/** Splits a task command like the task shell: spaces separate words, double quotes group. */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let current = "";
  let quoted = false;
  let inWord = false;
  for (const char of command) {
    if (char === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (char === " " && !quoted) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * The deno flags of `task` as the task shell would run them for `home`: `$HOME` expanded,
 * `$KIRO_GATEWAY_FLAGS` replaced by `extraFlags`, from after `deno run` up to the script.
 */
export function taskFlags(task: string, home: string, extraFlags: string[] = []): string[] {
  const words = splitWords(readTasks()[task]!.replaceAll("$HOME", home));
  const script = words.indexOf("src/main.ts");
  return words.slice(2, script).flatMap((word) =>
    word === "$KIRO_GATEWAY_FLAGS" ? extraFlags : [word]
  );
}

/** The Deno cache of this run, so a child with another HOME still finds the npm packages. */
/** A fake Kiro that also renews a refresh token (`access-1`, then `refresh-2`). */
export async function refreshingFakeKiro(): Promise<FakeKiro> {
  const kiro = await startFakeKiro();
  kiro.route(
    "POST",
    "/refreshToken",
    () => Response.json({ accessToken: "access-1", refreshToken: "refresh-2", expiresIn: 3600 }),
  );
  return kiro;
}

/** The variables that point every Kiro URL of a gateway process at `kiroUrl` (a fake Kiro). */
export function kiroUrlsEnv(kiroUrl: string): Record<string, string> {
  return {
    KIRO_API_URL: kiroUrl,
    KIRO_MANAGEMENT_URL: kiroUrl,
    KIRO_AUTH_URL: kiroUrl,
    KIRO_OIDC_URL: kiroUrl,
    KIRO_Q_URL: kiroUrl,
  };
}

export function denoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? "";
  if (Deno.build.os === "darwin") return join(home, "Library", "Caches", "deno");
  return join(Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"), "deno");
}

/** A scratch working folder and an empty HOME inside `root`, for one gateway process. */
export async function emptySandbox(root: string): Promise<{ cwd: string; home: string }> {
  const cwd = resolve(root);
  const home = join(cwd, "home");
  await Deno.mkdir(home);
  return { cwd, home };
}

/** Options of spawnGateway. */
export interface SpawnOptions {
  /** The working folder (holds `.env` and `debug_logs`). */
  cwd: string;
  /** HOME for the child and for `$HOME` in the task's flags. */
  home: string;
  env?: Record<string, string>;
  args?: string[];
  task?: string;
  extraFlags?: string[];
}

/** How a gateway subprocess ended. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A gateway subprocess. */
export interface GatewayProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** Stdout lines read so far. */
  lines: string[];
  /** Resolves with the listening URL, or rejects when the process ends first. */
  waitForUrl(): Promise<string>;
  /** Resolves with the first stdout line matching `pattern`, or rejects when the process ends. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** Stops the child (if running) and returns its exit code, stdout and stderr. */
  stop(): Promise<ProcessResult>;
  /** Waits for the child to exit by itself and returns the same as stop(). */
  exited(): Promise<ProcessResult>;
}

/** Starts `deno run <task flags> src/main.ts <args>` as the task would. */
export function spawnGateway(options: SpawnOptions): GatewayProcess {
  const flags = taskFlags(options.task ?? "start", options.home, options.extraFlags);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      join(REPO_ROOT, "deno.json"),
      ...flags,
      join(REPO_ROOT, "src", "main.ts"),
      ...options.args ?? [],
    ],
    cwd: options.cwd,
    clearEnv: true,
    env: { HOME: options.home, DENO_DIR: denoDir(), NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  let stdoutDone: Promise<void> | undefined;
  const drain = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      rest += value;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    }
  };
  const waitForLine = async (pattern: RegExp, what: string): Promise<RegExpMatchArray> => {
    for (;;) {
      const found = lines.map((line) => line.match(pattern)).find(Boolean);
      if (found) return found;
      const { done, value } = await reader.read();
      if (done) throw new Error(`The gateway exited before ${what}: ${await stderr}`);
      rest += value;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    }
  };
  const waitForUrl = async (): Promise<string> =>
    (await waitForLine(/listening on (http:\/\/\S+)/, "listening"))[1]!;
  let stopped: Promise<ProcessResult> | undefined;
  const finish = (kill: boolean) => {
    stopped ??= (async () => {
      if (kill) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
      }
      stdoutDone ??= drain();
      const [status] = await Promise.all([child.status, stdoutDone]);
      if (rest) lines.push(rest);
      return { code: status.code, stdout: lines.join("\n"), stderr: await stderr };
    })();
    return within(stopped, 30_000, "gateway exit");
  };
  const stop = () => finish(true);
  return {
    child,
    lines,
    waitForUrl: () => within(waitForUrl(), 30_000, "gateway start-up"),
    waitForLine: async (pattern) =>
      (await within(waitForLine(pattern, `writing ${pattern}`), 30_000, `${pattern}`)).input!,
    stop,
    exited: () => finish(false),
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
