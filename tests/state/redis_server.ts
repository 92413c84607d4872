/**
 * A real `redis-server` for tests: on a free loopback port, with its working folder in a temp
 * dir, no persistence, started and restarted on the same port, ready when it prints so.
 */
import { createClient } from "@redis/client";
import { within } from "../helpers.ts";

/** Whether `redis-server` is on PATH (`.ci/run` installs it when missing). */
export function hasRedisServer(): boolean {
  try {
    const out = new Deno.Command("redis-server", { args: ["--version"], stdout: "null" })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
}

/** A loopback port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function plainClient(url: string) {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on("error", () => {});
  return client;
}

type Client = ReturnType<typeof plainClient>;

/** How a RedisServer listens: TLS with a certificate, a password. */
export interface RedisServerOptions {
  tls?: { certFile: string; keyFile: string };
  password?: string;
}

/** A redis-server child process that can be stopped and started again on its port. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  readonly options: RedisServerOptions;
  #child: Deno.ChildProcess | undefined;
  #output = "";

  /** Prepares a server on `port` (a free one by default) keeping its files in `dir`. */
  constructor(dir: string, port = freePort(), options: RedisServerOptions = {}) {
    this.dir = dir;
    this.port = port;
    this.options = options;
  }

  /** `redis://127.0.0.1:<port>/<db>`, or `rediss://:<password>@…` as configured. */
  url(db = 0): string {
    const scheme = this.options.tls ? "rediss" : "redis";
    const auth = this.options.password === undefined ? "" : `:${this.options.password}@`;
    return `${scheme}://${auth}127.0.0.1:${this.port}/${db}`;
  }

  #listenArgs(): string[] {
    const { tls, password } = this.options;
    const args = tls
      ? [
        "--port",
        "0",
        "--tls-port",
        String(this.port),
        "--tls-cert-file",
        tls.certFile,
        "--tls-key-file",
        tls.keyFile,
        "--tls-auth-clients",
        "no",
      ]
      : ["--port", String(this.port)];
    return password === undefined ? args : [...args, "--requirepass", password];
  }

  /** Starts the server and resolves once it says it accepts connections. */
  async start(): Promise<void> {
    if (this.#child) throw new Error("redis-server is already running");
    const child = new Deno.Command("redis-server", {
      args: [
        ...this.#listenArgs(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
        "--daemonize",
        "no",
        "--loglevel",
        "notice",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const ready = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`redis-server exited before it was ready:\n${this.#output}`);
        this.#output += value;
        if (this.#output.includes("Ready to accept connections")) return;
      }
    })();
    await within(ready, 15_000, "redis-server start-up");
    // Keep draining its output so it never blocks on a full pipe.
    void (async () => {
      for (;;) {
        const { done } = await reader.read().catch(() => ({ done: true }));
        if (done) return;
      }
    })();
  }

  /** Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await within(child.status, 15_000, "redis-server exit");
  }

  /** A plain client for looking at what the gateway stored; the caller closes it. */
  async client(): Promise<Client> {
    const client = plainClient(this.url());
    await client.connect();
    return client;
  }

  /** Every key in the database with its raw value (strings as stored, counters as numbers). */
  async dump(): Promise<Map<string, string>> {
    const client = await this.client();
    try {
      const all = new Map<string, string>();
      for await (const keys of client.scanIterator({ COUNT: 100 })) {
        for (const key of keys) all.set(key, (await client.get(key)) ?? "");
      }
      return all;
    } finally {
      client.destroy();
    }
  }

  /** Empties the database. */
  async flush(): Promise<void> {
    const client = await this.client();
    try {
      await client.flushAll();
    } finally {
      client.destroy();
    }
  }

  /** Stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
