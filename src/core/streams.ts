/** The reply pipe's driver: synchronous steps run inside one pull stage, errors in-band. */
import { toGatewayError } from "../errors.ts";
import type { ChatEvent } from "./chat.ts";

/** Options of pipeToEvents. */
export interface PipeToEventsOptions {
  /** Sees every event just before it is handed on (logs, metrics); must not throw. */
  onEvent?: (event: ChatEvent) => void;
}

/**
 * Reads `source` only when the result is read, runs each chunk through `steps` (a synchronous
 * transformer, e.g. several chained with chainTransformers) and hands on what it enqueues.
 * A failure of the source or of a step becomes one final `error` event and the end, so a
 * response that already started can report it in-band. Cancelling the result cancels the
 * source and the steps.
 */
export function pipeToEvents<I>(
  source: ReadableStream<I>,
  steps: Transformer<I, ChatEvent>,
  options: PipeToEventsOptions = {},
): ReadableStream<ChatEvent> {
  const reader = source.getReader();
  const { onEvent } = options;
  let out: ReadableStreamDefaultController<ChatEvent>;
  let count = 0;
  let closed = false;
  const hand = (event: ChatEvent) => {
    count++;
    onEvent?.(event);
    out.enqueue(event);
  };
  const close = () => {
    closed = true;
    out.close();
  };
  const controller: TransformStreamDefaultController<ChatEvent> = {
    desiredSize: null,
    enqueue: (event?: ChatEvent) => hand(event!),
    error: (reason?: unknown) => {
      throw reason;
    },
    terminate: () => {},
  };
  const fail = (err: unknown) => {
    hand({ type: "error", error: toGatewayError(err) });
    close();
  };
  return new ReadableStream<ChatEvent>({
    start(readable) {
      out = readable;
      try {
        void steps.start?.(controller);
      } catch (err) {
        fail(err);
      }
    },
    // A chunk may yield no event (half a frame, a tool call still open), and a pull that
    // enqueues nothing is not called again, so one pull reads until something is handed on.
    async pull() {
      const handed = count;
      while (count === handed && !closed) {
        let result: ReadableStreamReadResult<I>;
        try {
          result = await reader.read();
        } catch (err) {
          return fail(err);
        }
        try {
          if (result.done) {
            void steps.flush?.(controller);
            close();
          } else if (steps.transform) {
            void steps.transform(result.value, controller);
          } else {
            hand(result.value as unknown as ChatEvent);
          }
        } catch (err) {
          await reader.cancel(err).catch(() => {});
          return fail(err);
        }
      }
    },
    cancel(reason) {
      void steps.cancel?.(reason);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
