/** Route wiring of the OpenAI dialect: `POST /v1/chat/completions` and `GET /v1/models`. */
import type { HandlerDeps } from "../../core/backend.ts";
import { collectReply } from "../../core/collect.ts";
import { MAX_BODY_BYTES, readJsonBody } from "../../core/http_body.ts";
import { sseBody } from "../../core/sse.ts";
import { toChatRequest } from "./request.ts";
import { buildChatCompletion, buildModelList, type CompletionContext } from "./response.ts";
import { parseChatCompletionsBody } from "./schema.ts";
import { openAiChunks } from "./stream.ts";

const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "connection": "keep-alive",
  "x-accel-buffering": "no",
};

/**
 * POST /v1/chat/completions: validates the body, sends it to the backend and answers with
 * SSE chunks or one `chat.completion`. Throws GatewayErrors for the server to render.
 */
export async function handleChatCompletions(req: Request, deps: HandlerDeps): Promise<Response> {
  const body = parseChatCompletionsBody(await readJsonBody(req, MAX_BODY_BYTES));
  const chat = await toChatRequest(body, { config: deps.config, signal: req.signal });
  if ((body.n ?? 1) > 1) {
    deps.logger.warn("Kiro returns one choice: answering with one although n was larger", {
      n: body.n,
    });
  }
  // The signal covers the wait for the first byte; after that the pipe carries cancellation.
  const events = await deps.backend.send(chat, req.signal);
  const context: CompletionContext = {
    id: `chatcmpl-${deps.randomHex(16)}`,
    created: Math.floor(deps.now() / 1000),
    model: body.model,
  };
  if (chat.stream) {
    const includeUsage = body.stream_options?.include_usage ?? false;
    const sse = sseBody(events, openAiChunks({ ...context, includeUsage }));
    return new Response(sse, { headers: SSE_HEADERS });
  }
  return Response.json(buildChatCompletion(await collectReply(events), context));
}

/** GET /v1/models in OpenAI's list shape. */
export async function handleOpenAiModels(_req: Request, deps: HandlerDeps): Promise<Response> {
  const models = await deps.backend.listModels();
  return Response.json(buildModelList(models, Math.floor(deps.now() / 1000)));
}
