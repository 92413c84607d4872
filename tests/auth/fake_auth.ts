/** A fake Kiro auth, AWS SSO OIDC and management host on 127.0.0.1 for the auth tests. */
import { type Config, defaultConfig } from "../../src/config.ts";
import { DatabaseSync } from "node:sqlite";
import { Logger } from "../../src/log.ts";

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

/** Answers one request; `index` counts the requests to this path from 0. */
export type FakeHandler = (req: RecordedRequest, index: number) => Response | Promise<Response>;

/** The running fake. */
export interface FakeAuth extends AsyncDisposable {
  url: string;
  requests: RecordedRequest[];
  /** Requests to `path` only. */
  to(path: string): RecordedRequest[];
  /** Sets how `path` answers from now on. */
  on(path: string, handler: FakeHandler): void;
}

/** Starts the fake; every path answers 404 until `on()` sets a handler. */
export function startFakeAuth(): FakeAuth {
  const requests: RecordedRequest[] = [];
  const handlers = new Map<string, FakeHandler>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    const recorded = { method: req.method, path, headers: req.headers, body };
    const index = requests.filter((r) => r.path === path).length;
    requests.push(recorded);
    const handler = handlers.get(path);
    return handler ? await handler(recorded, index) : new Response("no handler", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    on: (path, handler) => void handlers.set(path, handler),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A config whose Kiro auth, OIDC and management hosts all point at `fake`. */
export function fakeConfig(
  fake: { url: string },
  overrides: Partial<Config> = {},
): Readonly<Config> {
  return defaultConfig({
    upstream: { auth: fake.url, oidc: fake.url, management: fake.url },
    ...overrides,
  });
}

/** A logger that keeps every line, at trace level. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "trace", write: (line) => lines.push(line) }), lines };
}

/** A settable clock in epoch milliseconds. */
export function fakeClock(start = Date.parse("2026-05-18T12:00:00.000Z")): {
  now: () => number;
  ms: number;
} {
  const clock = { ms: start, now: () => clock.ms };
  return clock;
}

/** A JSON refresh answer. */
export function tokenAnswer(fields: Record<string, unknown>, status = 200): Response {
  return Response.json(fields, { status });
}

/** A profile ARN in `region`. */
export function arnIn(region: string): string {
  return `arn:aws:codewhisperer:${region}:123456789012:profile/ABCDEFGHIJKL`;
}

/** Creates a database with kiro-cli's schema holding `authKv` (JSON values) and `state` rows. */
export function createCliDatabase(
  path: string,
  authKv: Record<string, unknown>,
  state: Record<string, unknown> = {},
): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT)");
    db.exec("CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB)");
    for (const [key, value] of Object.entries(authKv)) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      db.prepare("INSERT INTO auth_kv (key, value) VALUES (?, ?)").run(key, text);
    }
    for (const [key, value] of Object.entries(state)) {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      db.prepare("INSERT INTO state (key, value) VALUES (?, ?)").run(key, bytes);
    }
  } finally {
    db.close();
  }
}

/** Replaces one auth_kv value, as kiro-cli does when it refreshes. */
export function setAuthKv(path: string, key: string, value: unknown): void {
  const db = new DatabaseSync(path);
  try {
    db.prepare("UPDATE auth_kv SET value = ? WHERE key = ?").run(JSON.stringify(value), key);
  } finally {
    db.close();
  }
}

/** Reads one auth_kv value as JSON. */
export function readAuthKv(path: string, key: string): Record<string, unknown> | undefined {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const row = db.prepare("SELECT value FROM auth_kv WHERE key = ?").get(key);
    return typeof row?.value === "string" ? JSON.parse(row.value) : undefined;
  } finally {
    db.close();
  }
}
