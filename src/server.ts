/**
 * The HTTP surface: routes, the client API-key check, CORS, request ids, one log line per
 * request, and the single error funnel that renders every failure in the caller's dialect.
 */
import { timingSafeEqual } from "node:crypto";
import type { AccountUsage } from "./accounts/pool.ts";
import { VERSION } from "./config.ts";
import { type ErrorKind, GatewayError, toGatewayError } from "./errors.ts";
import type { HandlerDeps } from "./core/backend.ts";
import { anthropicErrorResponse } from "./dialects/anthropic/errors.ts";
import { openAiErrorResponse } from "./dialects/openai/errors.ts";
import {
  handleAnthropicModels,
  handleCountTokens,
  handleMessages,
} from "./dialects/anthropic/handler.ts";
import { handleChatCompletions, handleOpenAiModels } from "./dialects/openai/handler.ts";
import { responsesErrorResponse } from "./dialects/responses/errors.ts";
import {
  handleDeleteResponse,
  handleGetResponse,
  handleListInputItems,
  handleResponses,
  INPUT_ITEMS_PATH_SUFFIX,
  RESPONSE_PATH_PREFIX,
} from "./dialects/responses/handler.ts";
import { CAPTURED_PATHS, type DebugRecorder } from "./debug_capture.ts";
import { limitRequestBody, MAX_BODY_BYTES } from "./core/http_body.ts";
import { watchBody } from "./core/body_watch.ts";
import { endAtShutdown } from "./core/shutdown.ts";
import { factFields, observeBackend, type RequestFacts, toRequestRecord } from "./request_facts.ts";
import type { AccountSnapshot, AccountsView } from "./ops/accounts.ts";
import { RequestJournal } from "./ops/journal.ts";
import { GatewayMetrics } from "./ops/metrics.ts";
import { fallbackModelLabel, type ModelLabeler } from "./ops/model_label.ts";
import { metricsResponse, type OpsViews, statusJsonResponse, statusPage } from "./ops/routes.ts";

/** Credential state shown by /health, without secrets. */
export interface HealthCredentials {
  status(): Record<string, unknown>;
}

/** What the server needs beyond what handlers need. */
export interface ServerDeps extends HandlerDeps {
  /** When the process started, in epoch milliseconds. */
  startedAt: number;
  credentials?: HealthCredentials;
  /** Captures chat requests to DEBUG_DIR when DEBUG_MODE asks for it. */
  debug?: DebugRecorder;
  /** The Prometheus series behind GET /metrics; made by createHandler when absent. */
  metrics?: GatewayMetrics;
  /** The recent requests behind GET /status.json; made by createHandler when absent. */
  journal?: RequestJournal;
  /** Each account's credit, for GET /v1/usage. */
  usage?: { usageReport(): Promise<AccountUsage[]> };
  /** The Kiro accounts (the pool's read-only view); /health and the operator views show them. */
  accounts?: AccountsView;
  /** The bounded `model` label of a client's model name; the built-in list when absent. */
  modelLabel?: ModelLabeler;
  /** The request body limit of every route, in bytes; MAX_BODY_BYTES by default. */
  maxBodyBytes?: number;
  /** How long a request body may take once read, in milliseconds; BODY_TIMEOUT_MS by default. */
  bodyTimeoutMs?: number;
  /**
   * Aborted by main.ts when the shutdown grace period ends: replies still open then end with
   * an in-band error in their dialect (core/shutdown.ts).
   */
  shutdown?: AbortSignal;
}

type Dialect = "openai" | "anthropic" | "responses";
type Handler = (req: Request, deps: HandlerDeps) => Promise<Response>;

interface Route {
  dialect: Dialect;
  /** Whether the route needs the gateway's API key. */
  auth: boolean;
  /** An operator route: counted in the metrics but kept out of the journal. */
  ops?: true;
  /** Its name in metrics and the journal when it matches more than its table path. */
  pattern?: string;
  methods: Partial<Record<string, Handler>>;
}

const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
  "access-control-allow-headers": "*",
  "access-control-expose-headers": "x-request-id, request-id, retry-after",
  "access-control-max-age": "86400",
};

function isAnthropicRequest(req: Request): boolean {
  return req.headers.has("anthropic-version");
}

function buildRoutes(deps: ServerDeps, views: OpsViews): Map<string, Route> {
  const root: Handler = () =>
    Promise.resolve(
      Response.json({ status: "ok", message: "Kiro Gateway is running", version: VERSION }),
    );
  // /health needs no key (load balancers poll it), so it says only how the gateway is;
  // credential paths, the state store and account details are shown to callers with the key.
  const health: Handler = async (req, d) => {
    const accounts = await deps.accounts?.snapshot() ?? [];
    const state = deps.state.describe();
    return Response.json({
      // A shared store that is unreachable still serves from local state: degraded, not down.
      status: healthStatus(accounts, state.connected),
      timestamp: new Date(deps.now()).toISOString(),
      version: VERSION,
      uptimeSeconds: Math.floor((deps.now() - deps.startedAt) / 1000),
      ...hasValidKey(req, d.config.proxyApiKey)
        ? { credentials: deps.credentials?.status() ?? null, state, accounts }
        : {},
    });
  };
  const usage: Handler = async () =>
    Response.json({ object: "usage", accounts: await deps.usage?.usageReport() ?? [] });
  const models: Handler = (req, d) =>
    isAnthropicRequest(req) ? handleAnthropicModels(req, d) : handleOpenAiModels(req, d);
  const ops = (answer: (views: OpsViews) => Promise<Response>): Handler => () => answer(views);
  return new Map<string, Route>([
    ["/", { dialect: "openai", auth: false, methods: { GET: root } }],
    ["/health", { dialect: "openai", auth: false, methods: { GET: health } }],
    ["/v1/models", { dialect: "openai", auth: true, methods: { GET: models } }],
    ["/v1/usage", { dialect: "openai", auth: true, methods: { GET: usage } }],
    [
      "/v1/chat/completions",
      { dialect: "openai", auth: true, methods: { POST: handleChatCompletions } },
    ],
    ["/v1/responses", { dialect: "responses", auth: true, methods: { POST: handleResponses } }],
    ["/v1/messages", { dialect: "anthropic", auth: true, methods: { POST: handleMessages } }],
    [
      "/v1/messages/count_tokens",
      { dialect: "anthropic", auth: true, methods: { POST: handleCountTokens } },
    ],
    ["/metrics", {
      dialect: "openai",
      auth: true,
      ops: true,
      methods: { GET: ops(metricsResponse) },
    }],
    [
      "/status.json",
      { dialect: "openai", auth: true, ops: true, methods: { GET: ops(statusJsonResponse) } },
    ],
    ["/status", { dialect: "openai", auth: false, ops: true, methods: { GET: ops(statusPage) } }],
  ]);
}

/** Headers in which clients name their session (Claude Code, Codex and generic ones). */
const SESSION_HEADERS = [
  "x-claude-code-session-id",
  "session_id",
  "session-id",
  "x-session-id",
  "conversation_id",
] as const;

/** The client's session id from its headers, if it sends one; bounded in length. */
function sessionKeyOf(req: Request): string | undefined {
  for (const name of SESSION_HEADERS) {
    const value = req.headers.get(name)?.trim();
    if (value) return value.slice(0, 200);
  }
  return undefined;
}

/** The route of one stored response, `GET` and `DELETE /v1/responses/{id}`. */
const STORED_RESPONSE_ROUTE: Route = {
  dialect: "responses",
  pattern: `${RESPONSE_PATH_PREFIX}{id}`,
  auth: true,
  methods: { GET: handleGetResponse, DELETE: handleDeleteResponse },
};

/** The route of a stored response's input, `GET /v1/responses/{id}/input_items`. */
const INPUT_ITEMS_ROUTE: Route = {
  dialect: "responses",
  pattern: `${RESPONSE_PATH_PREFIX}{id}${INPUT_ITEMS_PATH_SUFFIX}`,
  auth: true,
  methods: { GET: handleListInputItems },
};

/**
 * The route serving `path`: an exact route, or a stored-response route by its prefix (so the
 * metrics label stays the pattern, whatever the id).
 */
function routeFor(routes: Map<string, Route>, path: string): Route | undefined {
  const route = routes.get(path);
  if (route || !path.startsWith(RESPONSE_PATH_PREFIX)) return route;
  const rest = path.slice(RESPONSE_PATH_PREFIX.length);
  const slash = rest.indexOf("/");
  return slash > 0 && rest.slice(slash) === INPUT_ITEMS_PATH_SUFFIX
    ? INPUT_ITEMS_ROUTE
    : STORED_RESPONSE_ROUTE;
}

/**
 * ok when every enabled account is ok and the state store is reachable, down when no account
 * is ok, degraded in between.
 */
function healthStatus(
  accounts: AccountSnapshot[],
  stateConnected: boolean,
): "ok" | "degraded" | "down" {
  const enabled = accounts.filter((a) => a.status !== "disabled");
  const ok = enabled.filter((a) => a.status === "ok").length;
  if (enabled.length > 0 && ok === 0) return "down";
  return ok === enabled.length && stateConnected ? "ok" : "degraded";
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEquals(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  // Compare equal-length buffers so the time does not reveal the key's length either.
  const padded = new Uint8Array(Math.max(left.length, right.length, 1));
  padded.set(right);
  const candidate = new Uint8Array(padded.length);
  candidate.set(left);
  return timingSafeEqual(candidate, padded) && left.length === right.length;
}

/** Reads the client's key from `x-api-key` or `Authorization: Bearer`. */
function presentedKey(req: Request): string | undefined {
  const apiKey = req.headers.get("x-api-key");
  if (apiKey) return apiKey.trim();
  const auth = req.headers.get("authorization");
  const match = auth?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

/** Whether `req` presents the gateway's API key. */
function hasValidKey(req: Request, proxyApiKey: string): boolean {
  const key = presentedKey(req);
  return key !== undefined && constantTimeEquals(key, proxyApiKey);
}

function dialectFor(path: string, req: Request): Dialect {
  return path.startsWith("/v1/messages") || isAnthropicRequest(req) ? "anthropic" : "openai";
}

/** Renders `err` in `dialect`'s error shape. */
export function errorResponse(dialect: Dialect, err: GatewayError): Response {
  if (dialect === "responses") return responsesErrorResponse(err);
  return dialect === "anthropic" ? anthropicErrorResponse(err) : openAiErrorResponse(err);
}

/** Builds the gateway's request handler from its dependencies. */
export function createHandler(deps: ServerDeps): (req: Request) => Promise<Response> {
  const accounts = deps.accounts ?? { snapshot: () => Promise.resolve([]) };
  const metrics = deps.metrics ?? new GatewayMetrics();
  const journal = deps.journal ?? new RequestJournal({ size: deps.config.journalSize });
  const modelLabel = deps.modelLabel ?? fallbackModelLabel;
  const views: OpsViews = {
    metrics,
    journal,
    accounts,
    now: deps.now,
    startedAt: deps.startedAt,
    randomHex: deps.randomHex,
  };
  const routes = buildRoutes(deps, views);
  return async (req: Request): Promise<Response> => {
    const startedAt = deps.now();
    const requestId = `req_${deps.randomHex(12)}`;
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const logger = deps.logger.child({ requestId });
    const route = routeFor(routes, path);
    const dialect = route?.dialect ?? dialectFor(path, req);
    const facts: RequestFacts = {};
    const capture = deps.debug?.begin(requestId, path);
    const onWebSearch = () => {
      facts.webSearches = (facts.webSearches ?? 0) + 1;
      metrics.countWebSearch();
    };
    const observed = observeBackend(deps.backend, facts, {
      logger,
      capture,
      sessionKey: sessionKeyOf(req),
      onWebSearch,
    });
    const backend = deps.shutdown ? endAtShutdown(observed, deps.shutdown) : observed;
    let response: Response;
    let errorClass: ErrorKind | undefined;
    try {
      const limited = await limitRequestBody(req, {
        maxBytes: deps.maxBodyBytes ?? MAX_BODY_BYTES,
        timeoutMs: deps.bodyTimeoutMs,
      });
      const request = capture ? capture.tapRequest(limited) : limited;
      response = await dispatch(request, path, route, { ...deps, logger, backend, onWebSearch });
    } catch (err) {
      const gatewayError = toGatewayError(err);
      errorClass = gatewayError.kind;
      if (gatewayError.kind === "internal") {
        logger.error("Request failed with an internal error", {
          error: describeCause(err),
        });
      }
      response = errorResponse(dialect, gatewayError);
      capture?.recordError(response.status, gatewayError.message);
    }
    for (const [name, value] of Object.entries(CORS_HEADERS)) response.headers.set(name, value);
    response.headers.set("x-request-id", requestId);
    if (dialect === "anthropic") response.headers.set("request-id", requestId);
    const status = response.status;
    let streaming = false;
    let watched = false;
    const finish = async () => {
      const finishedAt = deps.now();
      if (!watched) facts.firstByteAt ??= finishedAt; // an unwatched body is sent at once
      if (streaming) metrics.streamsChanged(-1);
      // A chat no account claimed (it failed before one answered) is the only account's.
      const sole = facts.model !== undefined && facts.account === undefined
        ? await accounts.snapshot()
        : [];
      const record = toRequestRecord(facts, {
        requestId,
        method: req.method,
        route: route === undefined ? "unmatched" : route.pattern ?? path,
        dialect,
        status,
        startedAt,
        finishedAt,
        errorClass,
        modelLabel,
        soleAccount: sole.length === 1 ? sole[0]?.name : undefined,
      });
      metrics.recordRequest(record);
      if (!route?.ops) journal.add(record, finishedAt);
      logger.info("request", {
        method: req.method,
        path,
        status,
        durationMs: finishedAt - startedAt,
        ...factFields(facts, startedAt),
      });
      await capture?.finish({ status, streamError: facts.streamError?.message });
    };
    if (!CAPTURED_PATHS.has(path) || response.body === null) {
      await finish();
      return response;
    }
    watched = true;
    if (facts.stream) {
      streaming = true;
      metrics.streamsChanged(1);
    }
    const body = watchBody(response.body, {
      onChunk(chunk) {
        facts.firstByteAt ??= deps.now();
        capture?.recordClientChunk(chunk);
      },
      onEnd: finish,
    });
    // Watched in place (an SSE body): the response stays as it is.
    if (body === response.body) return response;
    return new Response(body, {
      status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

async function dispatch(
  req: Request,
  path: string,
  route: Route | undefined,
  deps: HandlerDeps,
): Promise<Response> {
  if (req.method === "OPTIONS") return new Response(null, { status: 204 });
  if (!route) {
    throw new GatewayError("not_found", `Not found: no route for "${req.method} ${path}"`);
  }
  const handler = route.methods[req.method] ??
    (req.method === "HEAD" ? route.methods.GET : undefined);
  if (!handler) {
    const allowed = Object.keys(route.methods).join(", ");
    throw new GatewayError(
      "method_not_allowed",
      `Method not allowed: "${req.method} ${path}" accepts ${allowed}`,
    );
  }
  if (route.auth) {
    if (!hasValidKey(req, deps.config.proxyApiKey)) {
      throw new GatewayError(
        "authentication",
        "Invalid or missing API key: send the gateway's PROXY_API_KEY as x-api-key or Authorization: Bearer",
      );
    }
  }
  return await handler(req, deps);
}

function describeCause(err: unknown): string {
  const cause = err instanceof GatewayError && err.cause !== undefined ? err.cause : err;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}\n${cause.stack ?? ""}`;
  return String(cause);
}
