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

/** The error replies still open at the end of the grace period end with. */
export function shutdownError(): GatewayError {
  return new GatewayError(
    "overloaded",
    "The gateway is shutting down: the reply was ended at the end of the shutdown grace period; send the request again",
  );
}

/**
 * Passes reply events on until `signal` aborts, then sends one shutdown error event and ends;
 * the pipe then cancels the source, so the upstream call stops too.
 */
export class ShutdownCutStream extends TransformStream<ChatEvent, ChatEvent> {
  constructor(signal: AbortSignal) {
    let cut: (() => void) | undefined;
    super({
      start(controller) {
        cut = () => {
          try {
            controller.enqueue({ type: "error", error: shutdownError() });
            controller.terminate();
          } catch {
            // The reply already ended or its client left: nothing to cut.
          }
        };
        if (signal.aborted) cut();
        else signal.addEventListener("abort", cut, { once: true });
      },
      transform(event, controller) {
        controller.enqueue(event);
      },
      flush() {
        if (cut) signal.removeEventListener("abort", cut);
      },
    });
  }
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
      return events.pipeThrough(new ShutdownCutStream(signal));
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
