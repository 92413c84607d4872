/** Stream wrappers for the reply pipe: errors in-band, and a timeout between chunks. */
import { toGatewayError } from "../errors.ts";
import type { ChatEvent } from "./chat.ts";

/**
 * Forwards `stream`, turning a failure of the source into one final `error` event, so a
 * response that already started can report it in-band. Reads only when read from; cancelling
 * the result cancels the source.
 */
export function catchStreamErrors(stream: ReadableStream<ChatEvent>): ReadableStream<ChatEvent> {
  const reader = stream.getReader();
  return new ReadableStream<ChatEvent>({
    async pull(controller) {
      let result: ReadableStreamReadResult<ChatEvent>;
      try {
        result = await reader.read();
      } catch (err) {
        controller.enqueue({ type: "error", error: toGatewayError(err) });
        controller.close();
        return;
      }
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Forwards `stream`, but errors with `onTimeout()` (and cancels the source) when a read waits
 * more than `timeoutMs` for the next chunk. The clock runs only while a read is pending, so a
 * slow consumer never trips it; no timer outlives a read, close or cancel.
 */
export function withIdleTimeout<T>(
  stream: ReadableStream<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): ReadableStream<T> {
  const reader = stream.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const clearTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return new ReadableStream<T>({
    async pull(controller) {
      const expired = Promise.withResolvers<"expired">();
      timer = setTimeout(() => expired.resolve("expired"), timeoutMs);
      let result: ReadableStreamReadResult<T> | "expired";
      try {
        result = await Promise.race([reader.read(), expired.promise]);
      } finally {
        clearTimer();
      }
      if (result === "expired") {
        const err = onTimeout();
        controller.error(err);
        await reader.cancel(err).catch(() => {});
        return;
      }
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel(reason) {
      clearTimer();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
