/** Route wiring of the OpenAI dialect: `POST /v1/chat/completions` and `GET /v1/models`. */
import type { HandlerDeps } from "../../core/backend.ts";
import { collectReply } from "../../core/collect.ts";
import { SseEncoderStream } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { toChatRequest } from "./request.ts";
import { buildChatCompletion, buildModelList, type CompletionContext } from "./response.ts";
import { parseChatCompletionsBody } from "./schema.ts";
import { OpenAiChunkStream } from "./stream.ts";

/** The largest request body accepted, in bytes (images arrive inline as base64). */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

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
  // The signal covers the wait for the first byte; after that the pipe carries cancellation.
  const events = await deps.backend.send(chat, req.signal);
  const context: CompletionContext = {
    id: `chatcmpl-${deps.randomHex(16)}`,
    created: Math.floor(deps.now() / 1000),
    model: body.model,
  };
  if (chat.stream) {
    const includeUsage = body.stream_options?.include_usage ?? false;
    const sse = events
      .pipeThrough(new OpenAiChunkStream({ ...context, includeUsage }))
      .pipeThrough(new SseEncoderStream());
    return new Response(sse, { headers: SSE_HEADERS });
  }
  return Response.json(buildChatCompletion(await collectReply(events), context));
}

/** GET /v1/models in OpenAI's list shape. */
export async function handleOpenAiModels(_req: Request, deps: HandlerDeps): Promise<Response> {
  const models = await deps.backend.listModels();
  return Response.json(buildModelList(models, Math.floor(deps.now() / 1000)));
}

/**
 * Reads and parses a JSON body of at most `maxBytes`; throws `payload_too_large` beyond that
 * and `invalid_request` when the body is not JSON.
 */
async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new GatewayError(
      "payload_too_large",
      `Request body too large: the limit is ${maxBytes} bytes`,
    );
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await req.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new GatewayError("invalid_request", "Invalid request: the body is empty, expected JSON");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError(
      "invalid_request",
      `Invalid request: the body is not valid JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
