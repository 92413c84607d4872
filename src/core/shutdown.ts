/**
 * The end of the shutdown grace period, seen from a reply: main.ts aborts one signal
 * (`deps.shutdown`) when SHUTDOWN_GRACE_SECONDS have passed after SIGTERM, and every reply
 * still open ends with one in-band error event, which each dialect renders in its own shape
 * (OpenAI error chunk and `[DONE]`, Anthropic `event: error`, Responses `response.failed`),
 * instead of the connection being cut.
 */
import { GatewayError } from "../errors.ts";
import type { ChatBackend } from "./backend.ts";
import type { ChatEvent, ChatRequest } from "./chat.ts";
import { cutEvents } from "./event_batches.ts";

/** The error replies still open at the end of the grace period end with. */
export function shutdownError(): GatewayError {
  return new GatewayError(
    "overloaded",
    "The gateway is shutting down: the reply was ended at the end of the shutdown grace period; send the request again",
  );
}

/**
 * Passes reply events on until `signal` aborts, then sends one shutdown error event and ends;
 * the source is cancelled then, so the upstream call stops too. Keeps the batches of `events`,
 * with no stage per read for a Kiro reply (see cutEvents).
 */
export function cutAtShutdown(
  events: ReadableStream<ChatEvent>,
  signal: AbortSignal,
): ReadableStream<ChatEvent> {
  return cutEvents(events, signal, () => ({ type: "error", error: shutdownError() }));
}

/**
 * Wraps `backend` so its replies end in-band when `signal` aborts, and a wait for the first
 * byte still going on then fails with shutdownError (rendered before any header is sent).
 */
export function endAtShutdown(backend: ChatBackend, signal: AbortSignal): ChatBackend {
  const wrapped: ChatBackend = {
    async send(chat: ChatRequest, requestSignal: AbortSignal, context) {
      if (signal.aborted) throw shutdownError();
      let events: ReadableStream<ChatEvent>;
      try {
        events = await backend.send(chat, AbortSignal.any([requestSignal, signal]), context);
      } catch (err) {
        if (signal.aborted && !requestSignal.aborted) throw shutdownError();
        throw err;
      }
      return cutAtShutdown(events, signal);
    },
    countInputTokens: (chat) => backend.countInputTokens(chat),
    listModels: () => backend.listModels(),
  };
  if (backend.searchWeb) {
    const search = backend.searchWeb.bind(backend);
    wrapped.searchWeb = (query, requestSignal, context) =>
      search(query, AbortSignal.any([requestSignal, signal]), context);
  }
  return wrapped;
}
