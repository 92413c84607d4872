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
import { batchable, type EventBatches, eventBatches } from "./streams.ts";

/** The error replies still open at the end of the grace period end with. */
export function shutdownError(): GatewayError {
  return new GatewayError(
    "overloaded",
    "The gateway is shutting down: the reply was ended at the end of the shutdown grace period; send the request again",
  );
}

/**
 * Passes reply events on until `signal` aborts, then sends one shutdown error event and ends;
 * the source is cancelled then, so the upstream call stops too. Keeps the batches of `events`
 * (see eventBatches): no stream hop per read.
 */
export function cutAtShutdown(
  events: ReadableStream<ChatEvent>,
  signal: AbortSignal,
): ReadableStream<ChatEvent> {
  return batchable(new ShutdownCut(events, signal));
}

/**
 * cutAtShutdown's state. The abort cancels the source, which ends a read waiting on it (a
 * cancelled stream answers its pending reads at once), and the next batch is the error event.
 */
class ShutdownCut implements EventBatches {
  #events: ReadableStream<ChatEvent>;
  #source: EventBatches | undefined = undefined;
  #signal: AbortSignal;
  #onAbort: () => void;
  #cut = false;
  #done = false;

  constructor(events: ReadableStream<ChatEvent>, signal: AbortSignal) {
    this.#events = events;
    this.#signal = signal;
    this.#onAbort = () => {
      this.#cut = true;
      void this.#batches().cancel(signal.reason).catch(() => {});
    };
    if (signal.aborted) this.#cut = true;
    else signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  #batches(): EventBatches {
    return this.#source ??= eventBatches(this.#events);
  }

  /** Ends the cut: the shared signal keeps no listener for a finished reply. */
  #finish(): void {
    this.#done = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
  }

  async next(): Promise<ChatEvent[] | undefined> {
    if (this.#done) return undefined;
    if (!this.#cut) {
      let batch: ChatEvent[] | undefined;
      try {
        batch = await this.#batches().next();
      } catch (err) {
        if (!this.#cut) {
          this.#finish();
          throw err;
        }
      }
      if (!this.#cut) {
        if (batch === undefined) this.#finish();
        return batch;
      }
    }
    // Cut: whatever the source still said is dropped, as a client would no longer see it.
    this.#finish();
    void this.#batches().cancel().catch(() => {});
    return [{ type: "error", error: shutdownError() }];
  }

  cancel(reason?: unknown): Promise<void> {
    this.#finish();
    return this.#batches().cancel(reason);
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
