/**
 * A fake Kiro upstream on 127.0.0.1 port 0: it replays scripted answers to
 * POST /generateAssistantResponse, answers web searches on POST /mcp, serves extra routes
 * tests register, and records requests.
 * It uses no timers: every wait is a promise the test controls, and closing the fake releases
 * them all so no response is left hanging.
 */
import {
  concatBytes,
  contextUsageFrame,
  meteringFrame,
  reasoningFrame,
  reasoningSignatureFrame,
  redactedReasoningFrame,
  textFrame,
} from "./frames.ts";

/** The path of the streaming chat call that replay() answers. */
export const GENERATE_PATH = "/generateAssistantResponse";

/** The path of the MCP endpoint (web search). */
export const MCP_PATH = "/mcp";

/** A query the fake MCP endpoint fails with a JSON-RPC error. */
export const FAILING_QUERY = "this search fails";

/** The two results the fake MCP endpoint finds for `query`, always the same. */
export function fakeSearchResults(query: string): Array<{
  title: string;
  url: string;
  snippet: string;
  publishedDate: number;
  id: string;
  domain: string;
}> {
  const slug = query.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return [1, 2].map((n) => ({
    title: `Result ${n} for ${query}`,
    url: `https://example.com/${slug}/${n}`,
    snippet: `Snippet ${n} about ${query}.`,
    publishedDate: Date.UTC(2026, 0, n),
    id: `${slug}-${n}`,
    domain: "example.com",
  }));
}

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  /** The URL path without the query string. */
  path: string;
  /** The query string parameters. */
  query: Record<string, string>;
  /** Header names are lower case. */
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else its text ("" when empty). */
  body: unknown;
}

/** A scripted answer to one POST /generateAssistantResponse. */
export interface FakeReply {
  /** HTTP status; default 200. */
  status?: number;
  /** Extra response headers, such as Retry-After. */
  headers?: Record<string, string>;
  /** A non-stream body: a string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Binary frames sent back to back, one chunk per frame unless chunkSizes is given. */
  frames?: Uint8Array[];
  /** Bytes sent as they are (corrupt streams), after any frames. */
  raw?: Uint8Array;
  /** Chunk sizes to cut the stream bytes into, in order; the last size repeats. */
  chunkSizes?: number[];
  /** Awaited before the response headers are sent (first-byte timeout tests). */
  gate?: Promise<void>;
  /** After this many chunks, the stream stalls until `resume` settles (or forever). */
  stallAfter?: number;
  /** Ends a stall; without it a stall lasts until the client leaves or the fake closes. */
  resume?: Promise<void>;
}

/** A scripted answer, or a function that picks one for the request it answers. */
export type FakeReplyScript = FakeReply | ((request: RecordedRequest) => FakeReply);

/** What a test can observe about one replayed reply. */
export interface ReplayHandle {
  /** The request this reply answered. */
  request: Promise<RecordedRequest>;
  /** Resolves when the client cancels or abandons the body before its end. */
  cancelled: Promise<void>;
  /** Resolves when the whole body has been handed to the server. */
  completed: Promise<void>;
}

/**
 * Chooses the answer to a POST /generateAssistantResponse from the request itself, for clients
 * whose requests arrive in no fixed order (agents with background requests); `undefined`
 * leaves the request to the next responder, or to the default reply.
 */
export type Responder = (request: RecordedRequest) => FakeReply | undefined;

/** Answers a request to a route registered with `route()`. */
export type RouteHandler = (request: RecordedRequest) => Response | Promise<Response>;

/** A running fake Kiro; dispose it (`await using`) to shut the server down. */
export interface FakeKiro extends AsyncDisposable {
  /** Base URL such as `http://127.0.0.1:41234`, usable for every Kiro base URL override. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** The requests received for `path`, in order. */
  requestsTo(path: string): RecordedRequest[];
  /** Queues replies for the next POST /generateAssistantResponse calls, one each. */
  replay(...replies: FakeReplyScript[]): ReplayHandle[];
  /** Serves `method path` with `handler`. */
  route(method: string, path: string, handler: RouteHandler): void;
  /**
   * Adds a responder, asked in the order added whenever the replay queue is empty; a request
   * no responder takes gets the default reply.
   */
  respond(responder: Responder): void;
  /** The oldest request (to `path`, if given) not yet returned by an earlier call. */
  nextRequest(path?: string): Promise<RecordedRequest>;
  /**
   * Holds the next MCP answers until `release` settles; `aborted` resolves when the caller
   * of a held search went away.
   */
  holdMcp(release: Promise<void>): { aborted: Promise<void> };
}

interface Queued {
  script: FakeReplyScript;
  request: PromiseWithResolvers<RecordedRequest>;
  cancelled: PromiseWithResolvers<void>;
  completed: PromiseWithResolvers<void>;
}

interface Waiter {
  path?: string;
  resolve: (request: RecordedRequest) => void;
}

/**
 * Starts a fake Kiro. With an empty replay queue, POST /generateAssistantResponse answers a
 * short default text stream ("Hello from the fake Kiro", metering, context usage) so a stray
 * call never hangs; unknown routes answer 404.
 */
export function startFakeKiro(): Promise<FakeKiro> {
  const requests: RecordedRequest[] = [];
  const delivered = new Set<number>();
  const waiters: Waiter[] = [];
  const queue: Queued[] = [];
  const routes = new Map<string, RouteHandler>();
  const responders: Responder[] = [];
  const closing = Promise.withResolvers<void>();
  let mcpHold: { release: Promise<void>; aborted: PromiseWithResolvers<void> } | undefined;

  function record(request: RecordedRequest): void {
    requests.push(request);
    const index = requests.length - 1;
    const waiter = waiters.findIndex((w) => w.path === undefined || w.path === request.path);
    if (waiter >= 0) {
      delivered.add(index);
      waiters.splice(waiter, 1)[0]!.resolve(request);
    }
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const text = await req.text();
    const request: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(req.headers),
      body: parseBody(text),
    };
    record(request);
    const handler = routes.get(`${req.method} ${url.pathname}`);
    if (handler) return await handler(request);
    if (req.method === "POST" && url.pathname === MCP_PATH) {
      const hold = mcpHold;
      if (hold) {
        const onAbort = () => hold.aborted.resolve();
        req.signal.addEventListener("abort", onAbort, { once: true });
        await Promise.race([hold.release, closing.promise, hold.aborted.promise]);
        req.signal.removeEventListener("abort", onAbort);
      }
      return answerMcp(request);
    }
    if (req.method === "POST" && url.pathname === GENERATE_PATH) {
      const queued = queue.shift() ?? newQueued(respondTo(request));
      queued.request.resolve(request);
      const reply = typeof queued.script === "function" ? queued.script(request) : queued.script;
      return await answer(queued, reply, closing.promise);
    }
    return Response.json({ message: `No fake route for ${req.method} ${url.pathname}` }, {
      status: 404,
    });
  }

  function respondTo(request: RecordedRequest): FakeReply {
    for (const responder of responders) {
      const reply = responder(request);
      if (reply) return reply;
    }
    return DEFAULT_REPLY;
  }

  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handle);

  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    requestsTo: (path) => requests.filter((r) => r.path === path),
    replay(...replies) {
      return replies.map((reply) => {
        const queued = newQueued(reply);
        queue.push(queued);
        return {
          request: queued.request.promise,
          cancelled: queued.cancelled.promise,
          completed: queued.completed.promise,
        };
      });
    },
    route(method, path, handler) {
      routes.set(`${method.toUpperCase()} ${path}`, handler);
    },
    respond(responder) {
      responders.push(responder);
    },
    holdMcp(release) {
      mcpHold = { release, aborted: Promise.withResolvers() };
      return { aborted: mcpHold.aborted.promise };
    },
    nextRequest(path) {
      const index = requests.findIndex((r, i) =>
        !delivered.has(i) && (path === undefined || r.path === path)
      );
      if (index >= 0) {
        delivered.add(index);
        return Promise.resolve(requests[index]!);
      }
      const { promise, resolve } = Promise.withResolvers<RecordedRequest>();
      waiters.push({ path, resolve });
      return promise;
    },
    async [Symbol.asyncDispose]() {
      closing.resolve();
      await server.shutdown();
    },
  });
}

/**
 * Answers a web search as Kiro's MCP endpoint does (spec §1.5): 403 without a bearer token,
 * 400 without the profile-ARN header (what Kiro says then), a JSON-RPC error for
 * FAILING_QUERY, else fakeSearchResults as a JSON string inside the JSON-RPC result.
 */
function answerMcp(request: RecordedRequest): Response {
  if (!/^Bearer \S+$/.test(request.headers["authorization"] ?? "")) {
    return Response.json({ message: "Missing bearer token" }, { status: 403 });
  }
  if (!request.headers["x-amzn-kiro-profile-arn"]) {
    return Response.json({ message: "Improperly formed request.", reason: null }, { status: 400 });
  }
  const body = request.body as {
    id?: string;
    method?: string;
    params?: { name?: string; arguments?: { query?: unknown } };
  };
  const query = body.params?.arguments?.query;
  if (
    body.method !== "tools/call" || body.params?.name !== "web_search" || typeof query !== "string"
  ) {
    return Response.json({
      jsonrpc: "2.0",
      id: body.id,
      error: { code: -32602, message: "Invalid params" },
    });
  }
  if (query === FAILING_QUERY) {
    return Response.json({
      jsonrpc: "2.0",
      id: body.id,
      error: { code: -32603, message: "Search backend unavailable" },
    });
  }
  const results = fakeSearchResults(query);
  const text = JSON.stringify({ results, totalResults: results.length, query, error: null });
  return Response.json({
    jsonrpc: "2.0",
    id: body.id,
    result: { content: [{ type: "text", text }], isError: false },
  });
}

const DEFAULT_REPLY: FakeReply = {
  frames: [textFrame("Hello from the fake Kiro"), meteringFrame(0.01), contextUsageFrame(1.5)],
};

function newQueued(script: FakeReplyScript): Queued {
  return {
    script,
    request: Promise.withResolvers(),
    cancelled: Promise.withResolvers(),
    completed: Promise.withResolvers(),
  };
}

/** A request body as JSON when it parses, else its text (`""` for none). */
export function parseBody(text: string): unknown {
  if (text === "") return "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function answer(
  queued: Queued,
  reply: FakeReply,
  closing: Promise<void>,
): Promise<Response> {
  if (reply.gate) await Promise.race([reply.gate, closing]);
  const status = reply.status ?? 200;
  if (!reply.frames && !reply.raw) {
    queued.completed.resolve();
    const body = reply.body === undefined || typeof reply.body === "string"
      ? reply.body ?? ""
      : JSON.stringify(reply.body);
    const type = typeof reply.body === "string" ? "text/plain" : "application/json";
    return new Response(body, { status, headers: { "content-type": type, ...reply.headers } });
  }
  const chunks = splitBytes([...reply.frames ?? [], ...reply.raw ? [reply.raw] : []], reply);
  let sent = 0;
  let done = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === reply.stallAfter) {
        const resumed = (reply.resume ?? new Promise<void>(() => {})).then(() => true);
        const resumedBeforeClose = await Promise.race([resumed, closing.then(() => false)]);
        if (done) return; // the client left while we waited
        if (!resumedBeforeClose) {
          done = true;
          return controller.close();
        }
      }
      const chunk = chunks[sent++];
      if (chunk) controller.enqueue(chunk);
      if (sent >= chunks.length) {
        done = true;
        controller.close();
        queued.completed.resolve();
      }
    },
    cancel() {
      done = true;
      queued.cancelled.resolve();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status,
    headers: { "content-type": "application/vnd.amazon.eventstream", ...reply.headers },
  });
}

/** Cuts the stream into chunks: one per part, or by `chunkSizes` with the last size repeated. */
function splitBytes(parts: Uint8Array[], reply: FakeReply): Uint8Array[] {
  const sizes = reply.chunkSizes;
  if (!sizes || sizes.length === 0) return parts;
  const all = concatBytes(...parts);
  const chunks: Uint8Array[] = [];
  for (let i = 0, start = 0; start < all.byteLength; i++) {
    const size = Math.max(1, sizes[Math.min(i, sizes.length - 1)]!);
    chunks.push(all.subarray(start, start + size));
    start += size;
  }
  return chunks;
}

/** The model the fake catalogue advertises native reasoning for. */
export const NATIVE_MODEL_ID = "claude-opus-4.6";
/** A model the fake catalogue lists without a schema (thinking by tags). */
export const TAG_MODEL_ID = "claude-sonnet-4.5";

/** The schema advertised for NATIVE_MODEL_ID, shaped like the one seen for Opus 4.6 (§8.6). */
export const NATIVE_REASONING_SCHEMA = {
  type: "object",
  properties: {
    thinking: {
      type: "object",
      properties: {
        type: { type: "string", enum: ["adaptive", "disabled"] },
        display: { type: "string", enum: ["summarized", "omitted"] },
      },
    },
    output_config: {
      type: "object",
      properties: {
        effort: { type: "string", enum: ["low", "medium", "high", "max"], default: "high" },
      },
    },
    max_tokens: { type: "integer", minimum: 1024, maximum: 64000 },
  },
};

/** Serves ListAvailableModels: NATIVE_MODEL_ID with NATIVE_REASONING_SCHEMA, TAG_MODEL_ID without. */
export function advertiseNativeModel(kiro: FakeKiro): void {
  kiro.route("GET", "/ListAvailableModels", () =>
    Response.json({
      models: [
        {
          modelId: NATIVE_MODEL_ID,
          modelName: "Claude Opus 4.6",
          tokenLimits: { maxInputTokens: 1_000_000 },
          additionalModelRequestFieldsSchema: NATIVE_REASONING_SCHEMA,
        },
        { modelId: TAG_MODEL_ID, modelName: "Claude Sonnet 4.5" },
      ],
    }));
}

/** Options of nativeReasoningReply. */
export interface NativeReplyOptions {
  /** Reasoning pieces streamed before the signature. */
  reasoning?: string[];
  /** Kiro's signature; none when `redacted` is given instead. */
  signature?: string;
  /** Redacted reasoning sent instead of text and signature. */
  redacted?: string;
  /** The answer text. */
  text?: string;
  /** Answer a request that carries the native field with 400, as models without it do. */
  reject?: boolean;
  /** Frames after the answer (usage, metering); context usage by default. */
  tail?: Uint8Array[];
}

/**
 * A reply that behaves like Kiro with native reasoning: a request carrying
 * `additionalModelRequestFields` gets reasoningContentEvents (or a 400 with `reject`); one
 * without it gets the answer with a `<thinking>` block in the text, as tag injection asks.
 */
export function nativeReasoningReply(options: NativeReplyOptions = {}): FakeReplyScript {
  const text = options.text ?? "The answer.";
  const tail = options.tail ?? [meteringFrame(0.02), contextUsageFrame(1)];
  return (request) => {
    const body = request.body as { additionalModelRequestFields?: unknown };
    if (body.additionalModelRequestFields === undefined) {
      return {
        frames: [textFrame("<thinking>Tagged thoughts.</thinking>"), textFrame(text), ...tail],
      };
    }
    if (options.reject) {
      return {
        status: 400,
        body: { message: "Improperly formed request.", reason: null },
      };
    }
    const reasoning = options.redacted !== undefined
      ? [redactedReasoningFrame(options.redacted)]
      : [
        ...(options.reasoning ?? ["Native ", "thoughts."]).map(reasoningFrame),
        reasoningSignatureFrame(options.signature ?? "KIRO-SIGNATURE=="),
      ];
    return { frames: [...reasoning, textFrame(text), ...tail] };
  };
}
