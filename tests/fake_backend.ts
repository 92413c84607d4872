/** A scripted ChatBackend for dialect tests: replays ChatEvents and records what it got. */
import type { ChatBackend, ModelInfo } from "../src/core/backend.ts";
import type { ChatEvent, ChatRequest } from "../src/core/chat.ts";
import type { GatewayError } from "../src/errors.ts";

/** What the fake does for one send(): events to stream, or an error to reject with. */
export type BackendScript =
  | {
    events: ChatEvent[]; /** Stream nothing after this many events until released. */
    holdAfter?: number;
  }
  | { error: GatewayError };

/** A fake backend with its recordings. */
export interface FakeBackend extends ChatBackend {
  /** Every ChatRequest received, in order. */
  requests: ChatRequest[];
  /** Queues scripts for the next send() calls; an empty queue replays the last script. */
  script(...scripts: BackendScript[]): void;
  /** Resolves when a reply stream is cancelled or its signal aborts (client disconnect). */
  cancelled: Promise<void>;
  /** Releases a stream held by `holdAfter`. */
  release(): void;
}

/** The models the fake lists. */
export const FAKE_MODELS: ModelInfo[] = [
  { id: "auto-kiro", displayName: "Auto", contextWindow: 200_000 },
  {
    id: "claude-sonnet-4.5",
    displayName: "Claude Sonnet 4.5",
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
];

/** Creates a fake backend (one per test); the default script answers "Hello!". */
export function createFakeBackend(inputTokens = 42): FakeBackend {
  const queue: BackendScript[] = [];
  let last: BackendScript = {
    events: [
      { type: "text", text: "Hello!" },
      { type: "end", stopReason: "end_turn", usage: { inputTokens, outputTokens: 2 } },
    ],
  };
  const cancelled = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const backend: FakeBackend = {
    requests: [],
    get cancelled() {
      return cancelled.promise;
    },
    script(...scripts) {
      queue.push(...scripts);
    },
    release() {
      released.resolve();
    },
    send(chat, signal, context) {
      backend.requests.push(structuredClone(chat));
      const script = queue.shift() ?? last;
      last = script;
      if ("error" in script) return Promise.reject(script.error);
      const onCancel = cancelled;
      signal.addEventListener("abort", () => onCancel.resolve(), { once: true });
      const gate = released;
      let index = 0;
      const stream = new ReadableStream<ChatEvent>({
        async pull(controller) {
          if (script.holdAfter !== undefined && index === script.holdAfter) await gate.promise;
          const event = script.events[index++];
          if (event === undefined) return controller.close();
          context?.onEvent?.(event);
          controller.enqueue(event);
        },
        cancel() {
          onCancel.resolve();
          gate.resolve();
        },
      }, { highWaterMark: 0 });
      return Promise.resolve(stream);
    },
    countInputTokens() {
      return inputTokens;
    },
    listModels() {
      return Promise.resolve(FAKE_MODELS);
    },
  };
  return backend;
}
