/**
 * Route wiring of the Responses dialect: `POST /v1/responses` (streaming or not) and
 * `GET /v1/responses/{id}`. Errors are thrown as GatewayErrors for the server's error funnel
 * until the stream starts; after that they end the stream as `response.failed`.
 */
import type { HandlerDeps } from "../../core/backend.ts";
import { collectReply } from "../../core/collect.ts";
import { MAX_BODY_BYTES, readJsonBody } from "../../core/http_body.ts";
import type { ImageFetcher } from "../../core/images.ts";
import { sseBody } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { toChatRequest } from "./request.ts";
import { buildResponse, type OutputItem, type ResponseContext } from "./response.ts";
import { type InputItem, parseResponsesBody } from "./schema.ts";
import { ResponseStore } from "./store.ts";
import { responsesEvents } from "./stream.ts";

/** The path prefix of a stored response (`/v1/responses/{id}`). */
export const RESPONSE_PATH_PREFIX = "/v1/responses/";

const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "connection": "keep-alive",
  "x-accel-buffering": "no",
};

/** Knobs of the responses route that tests and embedders may change. */
export interface ResponsesOptions {
  /** How often `response.in_progress` is repeated while the reply is silent. */
  keepAliveIntervalMs?: number;
  /** Makes the HTTP requests of URL image downloads; `fetch` by default. */
  fetchImage?: ImageFetcher;
}

/** POST /v1/responses. */
export function handleResponses(req: Request, deps: HandlerDeps): Promise<Response> {
  return respondToResponses(req, deps, {});
}

/** POST /v1/responses with explicit options (keep-alive interval, image fetcher). */
export async function respondToResponses(
  req: Request,
  deps: HandlerDeps,
  options: ResponsesOptions,
): Promise<Response> {
  const encoding = req.headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    await req.body?.cancel();
    throw new GatewayError(
      "unsupported_media_type",
      `Cannot read a request body with content-encoding "${encoding}": send it uncompressed`,
    );
  }
  const body = parseResponsesBody(await readJsonBody(req, MAX_BODY_BYTES));
  const store = storeOf(deps);
  let history;
  if (body.previous_response_id) {
    const stored = await store.load(body.previous_response_id);
    if (!stored) {
      throw new GatewayError(
        "not_found",
        `Previous response with id "${body.previous_response_id}" not found`,
        { param: "previous_response_id" },
      );
    }
    history = stored.items;
  }
  if (Array.isArray(body.input) && body.input.some((item) => item.type === "item_reference")) {
    body.input = await resolveItemReferences(body.input, store, deps);
  }
  const { chat, calls, items } = await toChatRequest(body, {
    config: deps.config,
    history,
    signal: req.signal,
    fetchImage: options.fetchImage,
  });
  deps.logger.debug("Responses request", {
    model: body.model,
    stream: chat.stream,
    items: items.length,
    tools: chat.tools.length,
    store: body.store ?? true,
    previousResponseId: body.previous_response_id ?? null,
    originator: req.headers.get("originator"),
  });
  // The signal covers the wait for the first byte; after that the pipe carries cancellation.
  const events = await deps.backend.send(chat, req.signal);
  const ctx: ResponseContext = {
    id: `resp_${deps.randomHex(24)}`,
    createdAt: Math.floor(deps.now() / 1000),
    body,
    calls,
    newId: (prefix) => `${prefix}${deps.randomHex(24)}`,
  };
  const save = body.store !== false
    ? (response: Record<string, unknown>, output: OutputItem[]) =>
      store.save(ctx.id, { response, items: [...items, ...output] })
    : undefined;
  const onStoreError = (err: unknown) =>
    deps.logger.warn("Cannot store the response", { id: ctx.id, error: String(err) });
  if (!chat.stream) {
    const { response, output } = buildResponse(await collectReply(events), ctx);
    await save?.(response, output).catch(onStoreError);
    return Response.json(response);
  }
  const sse = sseBody(
    events,
    responsesEvents({
      ...ctx,
      keepAliveIntervalMs: options.keepAliveIntervalMs,
      onCompleted: save,
      onStoreError,
    }),
  );
  return new Response(sse, { headers: SSE_HEADERS });
}

/** GET /v1/responses/{id}: a stored response, or a 404. */
export async function handleGetResponse(req: Request, deps: HandlerDeps): Promise<Response> {
  const path = new URL(req.url).pathname.replace(/\/+$/, "");
  const id = decodeURIComponent(path.slice(RESPONSE_PATH_PREFIX.length));
  const stored = id === "" || id.includes("/") ? undefined : await storeOf(deps).load(id);
  if (!stored) {
    throw new GatewayError("not_found", `No response found with id "${id}"`, {
      param: "response_id",
    });
  }
  return Response.json(stored.response);
}

/**
 * Replaces `item_reference` inputs (the AI SDK sends them for items of stored responses) with
 * the stored items; a reference to an unknown or expired item is dropped with a warning.
 */
async function resolveItemReferences(
  input: InputItem[],
  store: ResponseStore,
  deps: HandlerDeps,
): Promise<InputItem[]> {
  const resolved: InputItem[] = [];
  for (const item of input) {
    if (item.type !== "item_reference") {
      resolved.push(item);
      continue;
    }
    const id = typeof item.id === "string" ? item.id : "";
    const stored = id === "" ? undefined : await store.loadItem(id);
    if (stored) resolved.push(stored);
    else deps.logger.warn("Dropped a reference to an unknown item", { itemId: id });
  }
  return resolved;
}

function storeOf(deps: HandlerDeps): ResponseStore {
  return new ResponseStore(deps.state, {
    maxEntries: deps.config.responsesStoreMaxEntries,
    maxAgeMs: deps.config.responsesStoreMaxAgeMs,
  });
}
