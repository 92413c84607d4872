/**
 * The rig the agent tests run in: the fake Kiro, the real gateway as a subprocess under the
 * start task's exact permissions, and a recording pass-through in front of it, so every request
 * an agent sends (its own background requests included) is seen with the status it got. Agents
 * run with a throwaway HOME and XDG folders inside the test's temporary folder, under a timeout.
 */
import assert from "node:assert/strict";
import { basename, join, resolve } from "node:path";
import { lintKiroPayload } from "../../src/kiro/request_lint.ts";
import type { KiroPayload } from "../../src/kiro/request.ts";
import {
  type FakeKiro,
  GENERATE_PATH,
  parseBody,
  type RecordedRequest,
  type Responder,
  startFakeKiro,
} from "../fake_kiro.ts";
import { structuredAnswers, toolLoop, viewPayload } from "../kiro_script.ts";
import { tempDir } from "../helpers.ts";
import {
  type GatewayProcess,
  kiroUrlsEnv,
  REPO_ROOT,
  spawnGateway,
} from "../ops/gateway_process.ts";

/** The key agents use against the gateway. */
export const AGENT_KEY = "agents-test-key-0123456789";
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/AGENTS";

/** The pinned agent versions (tests/agents/versions.json, which install.sh installs). */
export const AGENT_VERSIONS: Record<string, string> = JSON.parse(
  Deno.readTextFileSync(join(REPO_ROOT, "tests", "agents", "versions.json")),
);

/** Where install.sh puts the agent CLIs (KIRO_AGENTS_DIR overrides it). */
export function agentsDir(): string {
  return resolve(REPO_ROOT, Deno.env.get("KIRO_AGENTS_DIR") ?? ".deno-tools/agents");
}

/** The path of an installed agent binary, or undefined when it is absent. */
export function agentBinary(name: "claude" | "opencode" | "codex"): string | undefined {
  const path = join(agentsDir(), "node_modules", ".bin", name);
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The path of an installed agent binary; throws saying how to install it when absent. */
export function requiredAgent(name: "claude" | "opencode" | "codex"): string {
  const path = agentBinary(name);
  if (path === undefined) {
    throw new Error(`${name} is not installed in ${agentsDir()}: run tests/agents/install.sh`);
  }
  return path;
}

/**
 * The `ignore` value of an agent's tests: true (with a note saying how to install) when the
 * binary is absent and CI is not set; under CI=true the tests run, and fail, without it. Call
 * it once per test file.
 */
export function skipWithout(name: "claude" | "opencode" | "codex"): boolean {
  if (agentBinary(name) !== undefined || Deno.env.get("CI") === "true") return false;
  // deno-lint-ignore no-console -- the one line that says why these tests were skipped
  console.warn(
    `SKIP ${name} agent tests: ${name} is not installed in ${agentsDir()} ` +
      "(run tests/agents/install.sh; under CI=true these tests run and fail instead)",
  );
  return true;
}

/** One request an agent sent to the gateway, with the status it got. */
export interface ClientExchange {
  method: string;
  /** Path and query string. */
  url: string;
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else its text. */
  body: unknown;
  status: number;
  /** The response body of a non-2xx answer (to show in failures). */
  error?: string;
}

/** A running rig; dispose it to stop everything. */
export interface AgentRig extends AsyncDisposable {
  kiro: FakeKiro;
  /** The URL agents use (the recording pass-through in front of the gateway). */
  url: string;
  /** Every request agents sent, in order. */
  exchanges: ClientExchange[];
  /**
   * Outside connections the agents tried, each refused: HTTP(S)_PROXY points at a trap on
   * 127.0.0.1 that refuses every request and notes its target, and the network guard
   * (netguard.cjs, preloaded into Node and Bun processes) refuses and notes every lookup or
   * connection beyond loopback before a socket is opened.
   */
  readonly outside: string[];
  /** The rig's temporary folder (HOME, work and the gateway's folder are inside). */
  root: string;
  /** The agent's throwaway HOME. */
  home: string;
  /** The folder the agent works in (its project). */
  work: string;
  /** Runs `binary args` in `work` with only `env` (plus HOME, PATH), killed after `timeoutMs`. */
  run(binary: string, args: string[], options: RunOptions): Promise<AgentResult>;
  /**
   * Asserts every agent request got a 2xx, every upstream request passes the lint and no
   * agent tried to reach anything outside the rig.
   */
  assertClean(): void;
}

/** Options of AgentRig.run. */
export interface RunOptions {
  env: Record<string, string>;
  timeoutMs?: number;
  /** Text written to the agent's stdin (then closed); none by default. */
  stdin?: string;
}

/** How an agent run ended. */
export interface AgentResult {
  code: number;
  stdout: string;
  stderr: string;
}

const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The network guard preloaded into every Node and Bun process an agent run starts. */
export const NETGUARD = join(REPO_ROOT, "tests", "agents", "netguard.cjs");

/**
 * The environment that preloads the network guard: NODE_OPTIONS for Node (Codex's launcher,
 * any Node tool an agent starts), BUN_OPTIONS for Bun binaries that read it (Claude Code's);
 * refused attempts are written to `logFile`, one JSON line each.
 */
export function netguardEnv(logFile: string): Record<string, string> {
  if (/\s/.test(NETGUARD)) throw new Error(`the repository path holds a space: ${NETGUARD}`);
  return {
    NODE_OPTIONS: `--require ${NETGUARD}`,
    BUN_OPTIONS: `--preload ${NETGUARD}`,
    KIRO_NETGUARD_LOG: logFile,
  };
}

/** The attempts the network guard refused and wrote to `logFile`, as `via target` lines. */
export function netguardAttempts(logFile: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(logFile);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const entry = JSON.parse(line) as { via: string; target: string; argv: string[] };
    return `${entry.via} ${entry.target} (refused by netguard in ${entry.argv.join(" ")})`;
  });
}

/** Starts the fake Kiro, the gateway process and the pass-through in a fresh temporary folder. */
export async function startAgentRig(): Promise<AgentRig> {
  const tmp = await tempDir();
  const root = resolve(tmp.path);
  const home = join(root, "home");
  const work = join(root, "work");
  const gatewayCwd = join(root, "gateway");
  for (const dir of [home, work, gatewayCwd, join(gatewayCwd, "home")]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  const kiro = await startFakeKiro();
  kiro.route(
    "POST",
    "/refreshToken",
    () =>
      Response.json({ accessToken: "agents-access", refreshToken: "agents-next", expiresIn: 3600 }),
  );
  kiro.respond(structuredAnswers());
  let gateway: GatewayProcess | undefined;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const trapped: string[] = [];
  const guardLog = join(root, "netguard.log");
  const trap = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    trapped.push(`${req.method} ${req.headers.get("host") ?? req.url}`);
    return new Response("The agent tests allow no outside traffic", { status: 403 });
  });
  const trapUrl = `http://127.0.0.1:${trap.addr.port}`;
  try {
    await initGit(work);
    gateway = spawnGateway({
      cwd: gatewayCwd,
      home: join(gatewayCwd, "home"),
      args: ["--port", "0", "--host", "127.0.0.1"],
      env: {
        PROXY_API_KEY: AGENT_KEY,
        REFRESH_TOKEN: "agents-refresh",
        PROFILE_ARN: ARN,
        ...kiroUrlsEnv(kiro.url),
        LOG_LEVEL: "debug",
      },
    });
    const gatewayUrl = await gateway.waitForUrl();
    const exchanges: ClientExchange[] = [];
    server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => passThrough(req, gatewayUrl, exchanges),
    );
    const started = { gateway, server };
    const runEnv = { home, work, root, trapUrl, guardLog };
    return {
      kiro,
      url: `http://127.0.0.1:${server.addr.port}`,
      exchanges,
      get outside() {
        return [...trapped, ...netguardAttempts(guardLog)];
      },
      root,
      home,
      work,
      run: (binary, args, options) => runAgent(binary, args, { ...options, ...runEnv }),
      assertClean: () => assertClean(exchanges, kiro, [...trapped, ...netguardAttempts(guardLog)]),
      async [Symbol.asyncDispose]() {
        await started.server.shutdown();
        await trap.shutdown();
        await started.gateway.stop();
        await kiro[Symbol.asyncDispose]();
        await tmp[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    await server?.shutdown();
    await trap.shutdown();
    await gateway?.stop();
    await kiro[Symbol.asyncDispose]();
    await tmp[Symbol.asyncDispose]();
    throw err;
  }
}

const HOP_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding"]);

async function passThrough(
  req: Request,
  gatewayUrl: string,
  exchanges: ClientExchange[],
): Promise<Response> {
  const url = new URL(req.url);
  const text = await req.text();
  const headers = Object.fromEntries(
    [...req.headers].filter(([name]) => !HOP_HEADERS.has(name)),
  );
  const exchange: ClientExchange = {
    method: req.method,
    url: url.pathname + url.search,
    headers,
    body: parseBody(text),
    status: 0,
  };
  exchanges.push(exchange);
  const res = await fetch(gatewayUrl + exchange.url, {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : text,
    signal: req.signal,
  });
  exchange.status = res.status;
  if (res.ok) return new Response(res.body, { status: res.status, headers: res.headers });
  exchange.error = await res.text();
  return new Response(exchange.error, { status: res.status, headers: res.headers });
}

function assertClean(exchanges: ClientExchange[], kiro: FakeKiro, outside: string[]): void {
  assert.deepEqual(outside, [], "no agent reached beyond the rig");
  const failed = exchanges.filter((e) => e.status < 200 || e.status > 299);
  assert.deepEqual(
    failed.map((e) => `${e.method} ${e.url} -> ${e.status} ${e.error ?? ""}`),
    [],
    "every request the agent sent was answered 2xx",
  );
  for (const request of kiro.requestsTo(GENERATE_PATH)) {
    assert.deepEqual(lintKiroPayload(request.body as KiroPayload), [], "upstream lint");
  }
}

/**
 * Makes `work` a git repository of its own: the folder lies inside this repository, and the
 * agents look for the enclosing repository by themselves.
 */
async function initGit(work: string): Promise<void> {
  const result = await new Deno.Command("git", {
    args: ["init", "-q", work],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`git init failed: ${new TextDecoder().decode(result.stderr)}`);
  }
}

async function runAgent(
  binary: string,
  args: string[],
  options: RunOptions & {
    home: string;
    work: string;
    root: string;
    trapUrl: string;
    guardLog: string;
  },
): Promise<AgentResult> {
  await Deno.mkdir(join(options.home, "tmp"), { recursive: true });
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), options.timeoutMs ?? 120_000);
  const child = new Deno.Command(binary, {
    args,
    cwd: options.work,
    clearEnv: true,
    env: {
      HOME: options.home,
      PATH: `${join(binary, "..")}:${SYSTEM_PATH}`,
      XDG_CONFIG_HOME: join(options.home, ".config"),
      XDG_DATA_HOME: join(options.home, ".local", "share"),
      XDG_STATE_HOME: join(options.home, ".local", "state"),
      XDG_CACHE_HOME: join(options.home, ".cache"),
      TMPDIR: join(options.home, "tmp"),
      NO_COLOR: "1",
      TERM: "dumb",
      HTTP_PROXY: options.trapUrl,
      HTTPS_PROXY: options.trapUrl,
      ALL_PROXY: options.trapUrl,
      http_proxy: options.trapUrl,
      https_proxy: options.trapUrl,
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
      ...netguardEnv(options.guardLog),
      ...options.env,
    },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: timeout.signal,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const loadedBefore = guardLoads(options.guardLog);
  const output = await child.output().finally(() => clearTimeout(timer));
  const decoder = new TextDecoder();
  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
  if (timeout.signal.aborted) {
    throw new Error(
      `${binary} ${args.join(" ")} did not finish in time:\n${result.stdout}\n${result.stderr}`,
    );
  }
  const name = basename(binary);
  if (GUARDED.has(name) && guardLoads(options.guardLog) === loadedBefore) {
    throw new Error(`the network guard was not loaded into ${name} (${GUARDED.get(name)})`);
  }
  return result;
}

/**
 * The agents whose runtime loads the network guard, and how. opencode's Bun binary reads
 * neither BUN_OPTIONS nor bunfig.toml; its fetch honours HTTP(S)_PROXY, so the trap sees it.
 */
const GUARDED = new Map([
  ["claude", "Bun, BUN_OPTIONS=--preload"],
  ["codex", "its Node launcher, NODE_OPTIONS=--require"],
]);

/** How many processes have loaded the network guard so far (lines of its `.loaded` file). */
function guardLoads(logFile: string): number {
  try {
    return Deno.readTextFileSync(`${logFile}.loaded`).split("\n").length - 1;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
}

/** The thinking turn each agent's thinking test scripts: its marker, thinking and answer. */
export const THINKING_TURN = {
  marker: "agents-think",
  thinking: "The user wants six times seven, which is 42.",
  answer: "42",
} as const;

/** The lines of an agent's output that are JSON objects (those starting with `{`), parsed. */
export function jsonLines<T = Record<string, unknown>>(stdout: string): T[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line) as T
  );
}

/** The model requests (generateAssistantResponse) the rig's fake Kiro got, in order. */
export function generateRequests(rig: AgentRig): RecordedRequest[] {
  return rig.kiro.requestsTo(GENERATE_PATH);
}

/** The names a CLI gives its file-writing tool, that tool's path field, and its shell tool. */
export interface WriteAndShowTools {
  write: string;
  pathField: string;
  bash: string;
}

/**
 * Scripts the write-then-show tool loop (marker `agents-tool`): write "written by the agent" to
 * `file`, show it with the shell tool, then answer "The file is written and checked.".
 */
export function writeAndShowLoop(file: string, tools: WriteAndShowTools): Responder {
  return toolLoop({
    marker: "agents-tool",
    calls: [
      { name: tools.write, input: { [tools.pathField]: file, content: "written by the agent\n" } },
      {
        name: tools.bash,
        input: { command: "cat hello.txt && echo ran-in-$(basename $PWD)", description: "Show" },
      },
    ],
    answer: "The file is written and checked.",
  });
}

/**
 * Asserts that a write-then-show tool loop sent both tool results back to the model and that
 * the last model request carries the shown file and the work folder's name.
 */
export function assertToolResultsSent(rig: AgentRig): void {
  const generate = generateRequests(rig);
  assert.ok(
    generate.map((r) => viewPayload(r.body)).some((view) => view.toolResults === 2),
    "a request carried both tool results",
  );
  assert.match(JSON.stringify(generate.at(-1)?.body), /written by the agent\\nran-in-work/);
}

/** The environment Claude Code runs with against the rig (no outside traffic). */
export function claudeEnv(rig: AgentRig): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: rig.url,
    ANTHROPIC_API_KEY: AGENT_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CONFIG_DIR: join(rig.home, ".claude"),
  };
}

/**
 * Writes `$CODEX_HOME/config.toml` for the rig (the gateway as a Responses provider, update
 * checks, plugins and analytics off), naming `modelCatalog` when given; returns CODEX_HOME.
 */
export async function writeCodexConfig(rig: AgentRig, modelCatalog?: string): Promise<string> {
  const home = join(rig.home, ".codex");
  await Deno.mkdir(home, { recursive: true });
  const config = [
    'model = "claude-sonnet-4.5"',
    'model_provider = "kiro"',
    ...(modelCatalog === undefined ? [] : [`model_catalog_json = ${JSON.stringify(modelCatalog)}`]),
    "check_for_update_on_startup = false",
    "",
    "[features]",
    "plugins = false",
    "remote_plugin = false",
    "",
    "[analytics]",
    "enabled = false",
    "",
    "[model_providers.kiro]",
    'name = "Kiro Gateway"',
    `base_url = "${rig.url}/v1"`,
    'env_key = "KIRO_GATEWAY_KEY"',
    'wire_api = "responses"',
    "",
  ];
  await Deno.writeTextFile(join(home, "config.toml"), config.join("\n"));
  return home;
}
