/**
 * Route wiring of the Responses dialect: `POST /v1/responses` (streaming or not), and for
 * stored responses `GET` and `DELETE /v1/responses/{id}` and
 * `GET /v1/responses/{id}/input_items`. Errors are thrown as GatewayErrors for the server's
 * error funnel until the stream starts; after that they end the stream as `response.failed`.
 */
import type { HandlerDeps } from "../../core/backend.ts";
import { collectReply } from "../../core/collect.ts";
import { MAX_BODY_BYTES, readJsonBody } from "../../core/http_body.ts";
import type { ImageFetcher } from "../../core/images.ts";
import { sseBody } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { toChatRequest } from "./request.ts";
import { buildResponse, type OutputItem, type ResponseContext } from "./response.ts";
import { type InputItem, itemType, parseResponsesBody } from "./schema.ts";
import { ResponseStore, type StoredResponse } from "./store.ts";
import { responsesEvents } from "./stream.ts";

/** The path prefix of a stored response (`/v1/responses/{id}`). */
export const RESPONSE_PATH_PREFIX = "/v1/responses/";
/** The path suffix of a stored response's input list (`/v1/responses/{id}/input_items`). */
export const INPUT_ITEMS_PATH_SUFFIX = "/input_items";

/** The most input items one page lists. */
const MAX_LIST_LIMIT = 100;
/** How many input items a page lists without `limit`. */
const DEFAULT_LIST_LIMIT = 20;

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
  let history: InputItem[] = [];
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
  const input = { start: history.length, count: items.length - history.length };
  const save = body.store !== false
    ? (response: Record<string, unknown>, output: OutputItem[]) =>
      store.save(ctx.id, { response, items: [...items, ...output], input })
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
  const id = responseIdOf(req, "");
  const stored = id === undefined ? undefined : await storeOf(deps).load(id);
  if (!stored) throw responseNotFound(id);
  return Response.json(stored.response);
}

/** DELETE /v1/responses/{id}: forgets a stored response and its items, or a 404. */
export async function handleDeleteResponse(req: Request, deps: HandlerDeps): Promise<Response> {
  const id = responseIdOf(req, "");
  if (id === undefined || !await storeOf(deps).delete(id)) throw responseNotFound(id);
  return Response.json({ id, object: "response", deleted: true });
}

/**
 * GET /v1/responses/{id}/input_items: one page of the items the response had as input (its
 * own, not the history of its `previous_response_id`), newest first unless `order=asc`, after
 * the item `after`, at most `limit` (1 to 100, default 20). Throws an `invalid_request` naming
 * the query parameter that is wrong, and a 404 for an unknown response.
 */
export async function handleListInputItems(req: Request, deps: HandlerDeps): Promise<Response> {
  const query = new URL(req.url).searchParams;
  const order = query.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw badQuery("order", `Invalid "order": expected "asc" or "desc", got "${order}"`);
  }
  const limitText = query.get("limit") ?? String(DEFAULT_LIST_LIMIT);
  const limit = /^[0-9]{1,3}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
    throw badQuery(
      "limit",
      `Invalid "limit": expected an integer from 1 to ${MAX_LIST_LIMIT}, got "${limitText}"`,
    );
  }
  const id = responseIdOf(req, INPUT_ITEMS_PATH_SUFFIX);
  const stored = id === undefined ? undefined : await storeOf(deps).load(id);
  if (!stored) throw responseNotFound(id);
  const listed = inputItemsOf(stored).map((item, index) => toListedItem(item, id!, index));
  if (order === "desc") listed.reverse();
  const after = query.get("after");
  let start = 0;
  if (after !== null) {
    const index = listed.findIndex((item) => item.id === after);
    if (index < 0) {
      throw badQuery("after", `Invalid "after": response "${id}" has no input item "${after}"`);
    }
    start = index + 1;
  }
  const data = listed.slice(start, start + limit);
  return Response.json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < listed.length,
  });
}

/**
 * The response id in the request path before `suffix`, or undefined when the path holds none
 * (an empty id, or one with a slash).
 */
function responseIdOf(req: Request, suffix: string): string | undefined {
  const path = new URL(req.url).pathname.replace(/\/+$/, "");
  const raw = path.slice(RESPONSE_PATH_PREFIX.length, path.length - suffix.length);
  if (raw === "" || raw.includes("/")) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined; // a malformed escape names no stored response
  }
}

function responseNotFound(id: string | undefined): GatewayError {
  return new GatewayError("not_found", `No response found with id "${id ?? ""}"`, {
    param: "response_id",
  });
}

function badQuery(param: string, message: string): GatewayError {
  return new GatewayError("invalid_request", message, { param });
}

/** The response's own input items, oldest first. */
function inputItemsOf(stored: StoredResponse): InputItem[] {
  if (stored.input) {
    return stored.items.slice(stored.input.start, stored.input.start + stored.input.count);
  }
  const output = stored.response.output;
  return stored.items.slice(0, stored.items.length - (Array.isArray(output) ? output.length : 0));
}

/** Id prefixes of listed input items that came without an id, by item type. */
const ITEM_ID_PREFIXES: Readonly<Record<string, string>> = {
  message: "msg_",
  function_call: "fc_",
  function_call_output: "fco_",
  custom_tool_call: "ctc_",
  custom_tool_call_output: "ctco_",
  reasoning: "rs_",
};

/**
 * An input item as the list shows it: with an id (the client's, or one derived from the
 * response id and position, so pages agree), and a message's string content as one text part.
 */
function toListedItem(
  item: InputItem,
  responseId: string,
  index: number,
): Record<string, unknown> & { id: string } {
  const type = itemType(item);
  const id = typeof item.id === "string" && item.id !== ""
    ? item.id
    : `${ITEM_ID_PREFIXES[type] ?? "item_"}${responseId.replace(/^resp_/, "")}_${index}`;
  if (type !== "message") return { ...item, id };
  const partType = item.role === "assistant" ? "output_text" : "input_text";
  const content = typeof item.content === "string"
    ? [{ type: partType, text: item.content }]
    : item.content;
  return { status: "completed", ...item, type: "message", id, content };
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
