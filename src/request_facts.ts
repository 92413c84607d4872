/**
 * What the per-request log line and debug capture learn about a chat request without the
 * dialect handlers doing anything: the server hands each request a ChatBackend wrapper that
 * notes the model and watches the neutral events for usage, credits and in-band errors.
 */
import type { ChatBackend, ModelInfo, SendContext } from "./core/backend.ts";
import type { ChatEvent, ChatRequest } from "./core/chat.ts";
import type { GatewayError } from "./errors.ts";

/** Facts about one request, filled in as it runs; every field is optional. */
export interface RequestFacts {
  /** The model string as the client sent it. */
  model?: string;
  /** Whether the client asked for a stream. */
  stream?: boolean;
  /** Estimated input tokens (see README: Kiro reports no token counts). */
  inputTokens?: number;
  /** Estimated output tokens. */
  outputTokens?: number;
  /** Kiro credits charged, when a metering event arrived. */
  credits?: number;
  /** An error reported in-band after the response started. */
  streamError?: GatewayError;
  /** When the first response body chunk was sent, in epoch milliseconds. */
  firstByteAt?: number;
}

/**
 * Wraps `backend` for one request: send() records the model and stream flag, and the returned
 * events pass through a tap that records usage and in-band errors. Cancelling the tapped
 * stream cancels the backend's stream.
 */
export function observeBackend(
  backend: ChatBackend,
  facts: RequestFacts,
  context: SendContext,
): ChatBackend {
  return {
    async send(chat: ChatRequest, signal: AbortSignal): Promise<ReadableStream<ChatEvent>> {
      facts.model = chat.model;
      facts.stream = chat.stream;
      const events = await backend.send(chat, signal, context);
      return tapEvents(events, facts);
    },
    countInputTokens(chat: ChatRequest): number {
      facts.model ??= chat.model;
      return backend.countInputTokens(chat);
    },
    listModels(): Promise<ModelInfo[]> {
      return backend.listModels();
    },
  };
}

function tapEvents(events: ReadableStream<ChatEvent>, facts: RequestFacts) {
  const reader = events.getReader();
  return new ReadableStream<ChatEvent>({
    async pull(controller) {
      const result = await reader.read();
      if (result.done) return controller.close();
      const event = result.value;
      if (event.type === "end") {
        facts.inputTokens = event.usage.inputTokens;
        facts.outputTokens = event.usage.outputTokens;
        facts.credits = event.usage.credits;
      } else if (event.type === "error") {
        facts.streamError = event.error;
      }
      controller.enqueue(event);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The fields of the per-request log line that come from `facts`, without empty ones. */
export function factFields(facts: RequestFacts, startedAt: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    model: facts.model,
    stream: facts.stream,
    ttfbMs: facts.firstByteAt === undefined ? undefined : facts.firstByteAt - startedAt,
    inputTokens: facts.inputTokens,
    outputTokens: facts.outputTokens,
    credits: facts.credits,
    streamError: facts.streamError?.kind,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
