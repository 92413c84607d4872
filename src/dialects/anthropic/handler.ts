/**
 * Anthropic routes: POST /v1/messages (streaming or not), POST /v1/messages/count_tokens and
 * the Anthropic-shaped GET /v1/models. Errors are thrown as GatewayErrors for the server's
 * error funnel until the stream starts; after that they travel in-band.
 */
import type { HandlerDeps } from "../../core/backend.ts";
import type { ChatRequest } from "../../core/chat.ts";
import { collectReply } from "../../core/collect.ts";
import { MAX_BODY_BYTES, readJsonBody } from "../../core/http_body.ts";
import type { ImageFetcher } from "../../core/images.ts";
import { sseBody } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { buildAnthropicMessage } from "./response.ts";
import { type AnthropicBody, toChatRequest } from "./request.ts";
import { parseCountTokensBody, parseMessagesBody } from "./schema.ts";
import { anthropicEvents } from "./stream.ts";

/** The `created_at` of every listed model: Kiro publishes no dates. */
export const MODEL_CREATED_AT = "2025-01-01T00:00:00Z";

const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "connection": "keep-alive",
  "x-accel-buffering": "no",
};

/** Knobs of the messages route that tests and embedders may change. */
export interface MessagesOptions {
  /** How often pings are sent while the reply is silent. */
  pingIntervalMs?: number;
  /** Makes the HTTP requests of URL image downloads; `fetch` by default. */
  fetchImage?: ImageFetcher;
}

/** POST /v1/messages. */
export function handleMessages(req: Request, deps: HandlerDeps): Promise<Response> {
  return respondToMessages(req, deps, {});
}

/** POST /v1/messages with explicit options (ping interval, image fetcher). */
export async function respondToMessages(
  req: Request,
  deps: HandlerDeps,
  options: MessagesOptions,
): Promise<Response> {
  const chat = await readChatRequest(req, deps, parseMessagesBody, options.fetchImage);
  const id = `msg_${deps.randomHex(12)}`;
  const signature = `sig_${deps.randomHex(16)}`;
  const inputTokens = chat.stream ? deps.backend.countInputTokens(chat) : 0;
  const events = await deps.backend.send(chat, req.signal);
  if (!chat.stream) {
    const reply = await collectReply(events);
    return Response.json(buildAnthropicMessage(reply, { id, model: chat.model, signature }));
  }
  const render = anthropicEvents({
    id,
    model: chat.model,
    inputTokens,
    signature,
    pingIntervalMs: options.pingIntervalMs,
  });
  const sse = sseBody(events, render);
  return new Response(sse, { headers: SSE_HEADERS });
}

/** POST /v1/messages/count_tokens: the same local estimate `message_start` reports. */
export async function handleCountTokens(req: Request, deps: HandlerDeps): Promise<Response> {
  const chat = await readChatRequest(req, deps, parseCountTokensBody);
  return Response.json({ input_tokens: deps.backend.countInputTokens(chat) });
}

/** GET /v1/models in Anthropic's shape (requests that carry anthropic-version). */
export async function handleAnthropicModels(req: Request, deps: HandlerDeps): Promise<Response> {
  const query = new URL(req.url).searchParams;
  const limit = parseLimit(query.get("limit"));
  const afterId = query.get("after_id");
  const beforeId = query.get("before_id");
  const models = await deps.backend.listModels();
  const positionOf = (id: string, param: string) => {
    const position = models.findIndex((model) => model.id === id);
    if (position < 0) {
      throw new GatewayError("invalid_request", `${param}: unknown model id "${id}"`, { param });
    }
    return position;
  };
  let start = 0;
  let end = models.length;
  if (afterId !== null) start = positionOf(afterId, "after_id") + 1;
  if (beforeId !== null) end = positionOf(beforeId, "before_id");
  // Paging backwards (before_id alone) returns the page just before the cursor.
  const backwards = beforeId !== null && afterId === null;
  const from = backwards ? Math.max(start, end - limit) : start;
  const to = backwards ? end : Math.min(end, start + limit);
  const page = models.slice(from, Math.max(from, to)).map((model) => ({
    type: "model",
    id: model.id,
    display_name: model.displayName,
    created_at: MODEL_CREATED_AT,
  }));
  return Response.json({
    data: page,
    has_more: backwards ? from > start : to < end,
    first_id: page[0]?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
  });
}

function parseLimit(raw: string | null): number {
  if (raw === null) return 20;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new GatewayError(
      "invalid_request",
      `limit: expected an integer from 1 to 1000, got "${raw}"`,
      { param: "limit" },
    );
  }
  return limit;
}

/** Reads the body, validates it with the route's `parse` and converts it, logging a summary. */
async function readChatRequest(
  req: Request,
  deps: HandlerDeps,
  parse: (raw: unknown) => AnthropicBody,
  fetchImage?: ImageFetcher,
): Promise<ChatRequest> {
  const body = parse(await readJsonBody(req, MAX_BODY_BYTES));
  logRequest(req, deps, body);
  return await toChatRequest(body, {
    config: deps.config,
    logger: deps.logger,
    signal: req.signal,
    fetchImage,
  });
}

function logRequest(req: Request, deps: HandlerDeps, body: AnthropicBody): void {
  deps.logger.debug("Anthropic request", {
    model: body.model,
    stream: body.stream ?? false,
    messages: body.messages.length,
    tools: body.tools?.length ?? 0,
    anthropicVersion: req.headers.get("anthropic-version"),
    anthropicBeta: req.headers.get("anthropic-beta"),
  });
}
