/**
 * A fake Kiro serving several accounts, each with its own refresh token, access tokens and
 * profile ARN, with faults injected per account; and a real gateway in front of it that reads
 * a KIRO_ACCOUNTS_FILE. The fake tells accounts apart by the Bearer token of each call.
 */
import { join } from "node:path";
import { createGateway, type Gateway } from "../../src/app.ts";
import { type Config, defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import type { StateStore } from "../../src/state/state.ts";
import { type FakeKiro, GENERATE_PATH, type RecordedRequest, startFakeKiro } from "../fake_kiro.ts";
import { concatBytes, contextUsageFrame, meteringFrame, textFrame } from "../frames.ts";

/** The key clients use. */
export const POOL_KEY = "pool-key";

/** What a call to one account answers instead of a normal reply. */
export type Fault =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { network: true };

/** One fake account. */
export interface FakeAccountState {
  name: string;
  refreshToken: string;
  profileArn: string;
  /** Access tokens handed out, in order. */
  issued: string[];
  /** Chat calls that reached this account (any outcome). */
  calls: RecordedRequest[];
  /** Chat calls answered with a normal reply. */
  answered: number;
  /** Answers every chat call while set. */
  fault?: Fault;
  /** While `fault` is unset, the fault (undefined: a normal reply) of each chat call. */
  faultOf?: (request: RecordedRequest) => Promise<Fault | undefined>;
  /** Answers refresh calls with this status while set. */
  refreshFault?: number;
  /** Model ids its ListAvailableModels returns; undefined answers 500 (fallback list). */
  models?: string[];
  /** What its GetUsageLimits answers; undefined answers 404. */
  usage?: unknown;
  /** GetUsageLimits calls it received. */
  usageCalls: number;
  /** While set, replies send their first frame, then wait for it before the rest. */
  hold?: Promise<void>;
  /** While set, chat calls wait for it before answering at all (after being recorded). */
  gate?: Promise<void>;
  /** Resolved with each chat call as it arrives, then cleared. */
  onCall?: (request: RecordedRequest) => void;
}

/** The fake upstream with its accounts. */
export interface FakePool extends AsyncDisposable {
  kiro: FakeKiro;
  url: string;
  accounts: Map<string, FakeAccountState>;
  account(name: string): FakeAccountState;
}

/** Starts a fake Kiro with accounts named `names` (refresh token `refresh-<name>`). */
export async function startFakePool(names: string[]): Promise<FakePool> {
  const kiro = await startFakeKiro();
  const accounts = new Map<string, FakeAccountState>();
  names.forEach((name, i) => {
    accounts.set(name, {
      name,
      refreshToken: `refresh-${name}`,
      profileArn: `arn:aws:codewhisperer:us-east-1:12345678901${i}:profile/${name.toUpperCase()}`,
      issued: [],
      calls: [],
      answered: 0,
      usageCalls: 0,
    });
  });
  const byAccess = (request: RecordedRequest) => {
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    return [...accounts.values()].find((a) => a.issued.includes(token));
  };
  kiro.route("POST", "/refreshToken", (request) => {
    const body = request.body as { refreshToken?: string };
    const account = [...accounts.values()].find((a) => a.refreshToken === body.refreshToken);
    if (!account) return Response.json({ message: "Invalid refresh token" }, { status: 401 });
    if (account.refreshFault !== undefined) {
      return Response.json({ error: "invalid_grant" }, { status: account.refreshFault });
    }
    const token = `access-${account.name}-${account.issued.length + 1}`;
    account.issued.push(token);
    return Response.json({
      accessToken: token,
      refreshToken: account.refreshToken,
      expiresIn: 3600,
      profileArn: account.profileArn,
    });
  });
  kiro.route("GET", "/ListAvailableModels", (request) => {
    const account = byAccess(request);
    if (!account?.models) return Response.json({ message: "no list" }, { status: 500 });
    return Response.json({ models: account.models.map((modelId) => ({ modelId })) });
  });
  kiro.route("GET", "/getUsageLimits", (request) => {
    const account = byAccess(request);
    if (!account) return Response.json({ message: "Unknown token" }, { status: 403 });
    account.usageCalls++;
    if (account.usage === undefined) return Response.json({ message: "none" }, { status: 404 });
    return Response.json(account.usage);
  });
  kiro.route("POST", GENERATE_PATH, async (request) => {
    const account = byAccess(request);
    if (!account) return Response.json({ message: "Unknown token" }, { status: 403 });
    account.calls.push(request);
    account.onCall?.(request);
    if (account.gate) await account.gate;
    const fault = account.fault ?? await account.faultOf?.(request);
    if (fault && "network" in fault) {
      return new Response(
        new ReadableStream({
          pull(controller) {
            controller.error(new Error("connection reset by the fake"));
          },
        }),
        { headers: { "content-type": "application/vnd.amazon.eventstream" } },
      );
    }
    if (fault) {
      return Response.json(fault.body ?? { message: "fault" }, {
        status: fault.status,
        headers: fault.headers,
      });
    }
    account.answered++;
    const first = textFrame(`Hello from ${account.name}`);
    const rest = concatBytes(meteringFrame(0.01), contextUsageFrame(1));
    const hold = account.hold;
    if (hold) {
      let sent = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent++ === 0) return controller.enqueue(new Uint8Array(first));
            await hold;
            controller.enqueue(new Uint8Array(rest));
            controller.close();
          },
        }),
        { headers: { "content-type": "application/vnd.amazon.eventstream" } },
      );
    }
    return new Response(new Uint8Array(concatBytes(first, rest)), {
      headers: { "content-type": "application/vnd.amazon.eventstream" },
    });
  });
  return {
    kiro,
    url: kiro.url,
    accounts,
    account(name) {
      const account = accounts.get(name);
      if (!account) throw new Error(`no fake account ${name}`);
      return account;
    },
    async [Symbol.asyncDispose]() {
      await kiro[Symbol.asyncDispose]();
    },
  };
}

/** A running gateway in front of a fake pool. */
export interface PoolGateway extends AsyncDisposable {
  url: string;
  gateway: Gateway;
  logs: string[];
  /** POSTs an OpenAI chat with `text` as the user message; returns status, reply text, body. */
  chat(text: string, extra?: Record<string, unknown>): Promise<ChatResult>;
  /** GETs a path (with the key unless `auth` is false) and parses the JSON. */
  getJson(path: string, auth?: boolean): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Stops the server and closes the gateway (and its state store). */
  close(): Promise<void>;
}

/** One chat's outcome. */
export interface ChatResult {
  status: number;
  text?: string;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Options of startPoolGateway. */
export interface PoolGatewayOptions {
  /** The accounts file content; written to `dir/accounts.json`. */
  accounts: unknown[];
  dir: string;
  config?: Partial<Config>;
  now?: () => number;
  state?: StateStore;
}

/** Writes the accounts file and starts a real gateway on 127.0.0.1:0 in front of `pool`. */
export async function startPoolGateway(
  pool: FakePool,
  options: PoolGatewayOptions,
): Promise<PoolGateway> {
  const file = join(options.dir, "accounts.json");
  await Deno.writeTextFile(file, JSON.stringify(options.accounts));
  const logs: string[] = [];
  const config = defaultConfig({
    proxyApiKey: POOL_KEY,
    proxyApiKeyGenerated: false,
    accountsFile: file,
    stateDir: join(options.dir, "state"),
    upstream: { api: pool.url, auth: pool.url, management: pool.url, oidc: pool.url, q: pool.url },
    ...options.config,
  });
  const gateway = await createGateway(config, {
    logger: new Logger({ level: "debug", write: (line) => logs.push(line) }),
    homeDir: "/nonexistent-home",
    now: options.now,
    state: options.state,
    client: { sleep: () => Promise.resolve(), retryBaseMs: 0 },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gateway.handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.shutdown();
    await gateway.close();
  };
  return {
    url,
    gateway,
    logs,
    async chat(text, extra = {}) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${POOL_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-sonnet-4.5",
          messages: [{ role: "user", content: text }],
          ...extra,
        }),
      });
      const body = await res.json();
      return {
        status: res.status,
        text: body.choices?.[0]?.message?.content,
        body,
        headers: res.headers,
      };
    },
    async getJson(path, auth = true) {
      const res = await fetch(`${url}${path}`, {
        headers: auth ? { authorization: `Bearer ${POOL_KEY}` } : {},
      });
      return { status: res.status, body: await res.json() };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The accounts file entries of `names` as refresh_token entries. */
export function tokenEntries(names: string[], extra: Record<string, unknown> = {}): unknown[] {
  return names.map((name) => ({
    type: "refresh_token",
    name,
    refresh_token: `refresh-${name}`,
    ...extra,
  }));
}
