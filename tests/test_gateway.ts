/** Starts the real request handler on 127.0.0.1:0 with injected dependencies. */
import { type Config, defaultConfig } from "../src/config.ts";
import type { ChatBackend, HandlerDeps } from "../src/core/backend.ts";
import { Logger, silentLogger } from "../src/log.ts";
import { createHandler, type ServerDeps } from "../src/server.ts";
import { MemoryState } from "../src/state/state.ts";

/** The API key test gateways accept. */
export const TEST_API_KEY = "test-key";

/** A running test gateway. */
export interface TestGateway extends AsyncDisposable {
  url: string;
  /** Log lines the gateway wrote. */
  logs: string[];
  /** POSTs JSON with the test key (as Bearer unless headers say otherwise). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** GETs with the test key. */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
}

/** Options of startTestGateway. */
export interface TestGatewayOptions {
  backend: ChatBackend;
  config?: Partial<Config>;
  deps?: Partial<ServerDeps>;
}

/** Starts a gateway on a free port; dispose it to shut it down. */
export function startTestGateway(options: TestGatewayOptions): TestGateway {
  const logs: string[] = [];
  const config = defaultConfig({ proxyApiKey: TEST_API_KEY, ...options.config });
  let counter = 0;
  const deps: ServerDeps = {
    config,
    logger: new Logger({ level: "debug", write: (line) => logs.push(line) }),
    backend: options.backend,
    now: () => Date.now(),
    randomHex: (bytes) => (++counter).toString(16).padStart(bytes * 2, "0"),
    startedAt: Date.now(),
    state: new MemoryState(),
    ...options.deps,
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler(deps),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const auth = { authorization: `Bearer ${TEST_API_KEY}` };
  return {
    url,
    logs,
    post(path, body, headers = {}) {
      return fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    get(path, headers = {}) {
      return fetch(`${url}${path}`, { headers: { ...auth, ...headers } });
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * Dependencies for calling one dialect's handler directly: default config (no API key), a silent
 * logger, the clock at 0 and all-zero ids.
 */
export function fixedHandlerDeps(backend: ChatBackend): HandlerDeps {
  return {
    config: defaultConfig(),
    logger: silentLogger(),
    backend,
    now: () => 0,
    randomHex: (bytes) => "0".repeat(bytes * 2),
    state: new MemoryState(),
  };
}
