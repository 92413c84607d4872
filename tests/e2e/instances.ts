/**
 * Several real gateway processes on one Redis, for the multi-instance tests: each runs with the
 * start task's exact permissions in its own folder and HOME (as on separate machines), and a
 * fake Kiro whose refresh endpoint rotates refresh tokens the way Kiro does: a refresh token
 * works once, and the access tokens it replaced stop working.
 */
import { join } from "node:path";
import { type FakeKiro, GENERATE_PATH, startFakeKiro } from "../fake_kiro.ts";
import { within } from "../helpers.ts";
import { denoDir, REPO_ROOT, taskFlags } from "../ops/gateway_process.ts";

/** One account's login as the fake Kiro sees it. */
export interface FakeLogin {
  name: string;
  /** The refresh token that works now (each use replaces it). */
  refreshToken: string;
  /** The access token that works now. */
  accessToken: string;
  /** How many refreshes Kiro has answered for this account. */
  refreshes: number;
  /** Refresh attempts with a token that had already been used. */
  reusedRefreshTokens: number;
}

/** The fake Kiro with rotating logins and what it saw. */
export interface RotatingKiro extends AsyncDisposable {
  kiro: FakeKiro;
  logins: Map<string, FakeLogin>;
  /** Chat calls per access token presented (rejected ones included). */
  chatsByToken: Map<string, number>;
  /** Chat calls answered 403 because their token was not the current one. */
  rejectedChats: number;
  /** Makes the next chat call with `account`'s token fail with `status`; resolves when it did. */
  failNext(account: string, status: number, body: unknown): Promise<void>;
}

/** The initial (already expired) tokens of account `name`. */
export function initialTokens(name: string): { accessToken: string; refreshToken: string } {
  return { accessToken: `acc-${name}-0`, refreshToken: `ref-${name}-0` };
}

/** Starts a fake Kiro whose logins `names` rotate their tokens on every refresh. */
export async function startRotatingKiro(names: string[]): Promise<RotatingKiro> {
  const kiro = await startFakeKiro();
  const logins = new Map<string, FakeLogin>(
    names.map((
      name,
    ) => [name, { name, ...initialTokens(name), refreshes: 0, reusedRefreshTokens: 0 }]),
  );
  const pendingFailures = new Map<
    string,
    { status: number; body: unknown; done: PromiseWithResolvers<void> }
  >();
  const state: RotatingKiro = {
    kiro,
    logins,
    chatsByToken: new Map(),
    rejectedChats: 0,
    failNext(account, status, body) {
      const done = Promise.withResolvers<void>();
      pendingFailures.set(account, { status, body, done });
      return done.promise;
    },
    async [Symbol.asyncDispose]() {
      await kiro[Symbol.asyncDispose]();
    },
  };
  kiro.route("POST", "/refreshToken", (request) => {
    const presented = (request.body as { refreshToken?: string }).refreshToken ?? "";
    const name = presented.replace(/^ref-(.*)-\d+$/, "$1");
    const login = logins.get(name);
    if (!login || login.refreshToken !== presented) {
      if (login) login.reusedRefreshTokens++;
      return Response.json({
        error: "invalid_grant",
        message: "Invalid refresh token provided",
      }, { status: 400 });
    }
    login.refreshes++;
    login.accessToken = `acc-${name}-${login.refreshes}`;
    login.refreshToken = `ref-${name}-${login.refreshes}`;
    return Response.json({
      accessToken: login.accessToken,
      refreshToken: login.refreshToken,
      expiresIn: 3600,
    });
  });
  kiro.respond((request) => {
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    state.chatsByToken.set(token, (state.chatsByToken.get(token) ?? 0) + 1);
    const owner = [...logins.values()].find((login) => login.accessToken === token);
    const failure = owner && pendingFailures.get(owner.name);
    if (owner && failure) {
      pendingFailures.delete(owner.name);
      failure.done.resolve();
      return { status: failure.status, body: failure.body };
    }
    if (owner) return undefined; // the default text reply
    state.rejectedChats++;
    return {
      status: 403,
      body: { message: "The bearer token included in the request is invalid." },
    };
  });
  return state;
}

/** A gateway process with its output lines, which it keeps reading so the pipe never fills. */
export class Instance implements AsyncDisposable {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly home: string;
  url = "";
  #waiters: { pattern: RegExp; from: number; resolve: (line: string) => void }[] = [];
  #ended: Promise<Deno.CommandStatus>;

  /** Reads the child's stdout and stderr (warnings and errors) as one list of lines. */
  constructor(name: string, child: Deno.ChildProcess, home: string) {
    this.name = name;
    this.child = child;
    this.home = home;
    const drained = Promise.all([this.#drain(child.stdout), this.#drain(child.stderr)]);
    this.#ended = Promise.all([child.status, drained]).then(([status]) => status);
  }

  async #drain(stdout: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) this.#add(line);
    }
    if (rest) this.#add(rest);
  }

  #add(line: string): void {
    this.lines.push(line);
    const index = this.lines.length - 1;
    for (const waiter of [...this.#waiters]) {
      if (index >= waiter.from && waiter.pattern.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /** Resolves with the first line from index `from` on that matches `pattern`. */
  waitForLine(pattern: RegExp, from = 0, ms = 30_000): Promise<string> {
    const found = this.lines.slice(from).find((line) => pattern.test(line));
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve } = Promise.withResolvers<string>();
    this.#waiters.push({ pattern, from, resolve });
    const ended = this.#ended.then(() => {
      throw new Error(`${this.name} exited before printing ${pattern}:\n${this.lines.join("\n")}`);
    });
    return within(Promise.race([promise, ended]), ms, `${this.name}: a line matching ${pattern}`);
  }

  /** Lines matching `pattern` so far. */
  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }

  /** Kills the process at once (no graceful shutdown) and waits for it to end. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await within(this.#ended, 15_000, `${this.name} exit`);
  }

  /** Stops the process (SIGTERM) and waits for it to end. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await within(this.#ended, 20_000, `${this.name} exit`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Options of spawnInstance. */
export interface InstanceOptions {
  name: string;
  /** A folder for this instance: its working folder and HOME are made inside. */
  root: string;
  env: Record<string, string>;
  /** Writes credential files into HOME before the start. */
  prepare?: (home: string) => Promise<void>;
}

/** Starts `deno task start` as the task would and waits for its listening line. */
export async function spawnInstance(options: InstanceOptions): Promise<Instance> {
  const cwd = join(options.root, options.name);
  const home = join(cwd, "home");
  await Deno.mkdir(join(home, ".aws", "sso", "cache"), { recursive: true });
  await options.prepare?.(home);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      join(REPO_ROOT, "deno.json"),
      ...taskFlags("start", home),
      join(REPO_ROOT, "src", "main.ts"),
    ],
    cwd,
    clearEnv: true,
    env: { HOME: home, DENO_DIR: denoDir(), NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const instance = new Instance(options.name, child, home);
  const line = await instance.waitForLine(/listening on http:\/\/\S+/);
  instance.url = line.match(/listening on (http:\/\/\S+)/)![1]!;
  return instance;
}

/** The path of the chat call, for counting. */
export { GENERATE_PATH };
