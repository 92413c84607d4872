/** Server-sent events on the wire: messages in, UTF-8 bytes out. */
import type { ChatEvent } from "./chat.ts";
import { eventBatches } from "./streams.ts";

/** One server-sent event: an optional event name and its data text. */
export interface SseMessage {
  event?: string;
  data: string;
}

const LINE_BREAK = /\r\n|\r|\n/;

/** Encodes SSE messages as UTF-8 bytes (the logic of SseEncoderStream). */
export function sseEncoder(): Transformer<SseMessage, Uint8Array> {
  const encoder = new TextEncoder();
  return {
    transform(message, controller) {
      controller.enqueue(encoder.encode(formatSseMessage(message)));
    },
  };
}

/**
 * Encodes messages as `event: x\ndata: y\n\n`, one `data:` line per line of data, so data
 * holding line breaks survives; an event name holding a line break is a bug and throws.
 */
export class SseEncoderStream extends TransformStream<SseMessage, Uint8Array> {
  constructor() {
    super(sseEncoder());
  }
}

/**
 * The SSE body of a reply: `render` turns events into messages, and all the messages of one
 * batch of events (what one upstream read brought, see eventBatches) leave as one chunk, so
 * the cost per chunk (an encode, an enqueue, a socket write) is paid per read, not per event.
 * Nothing waits to batch: a batch is only what has already arrived. What `render` enqueues
 * outside a batch (its start, a timer's keep-alive) leaves at once. The body reads `events`
 * only when read itself, and cancelling it cancels `events` and `render`.
 */
export function sseBody(
  events: ReadableStream<ChatEvent>,
  render: Transformer<ChatEvent, SseMessage>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const batches = eventBatches(events);
  let out: ReadableStreamDefaultController<Uint8Array>;
  /** SSE text rendered and not yet enqueued; written out at the end of each batch. */
  let text = "";
  let inBatch = false;
  let over = false;
  const writeOut = () => {
    if (text === "") return;
    const chunk = encoder.encode(text);
    text = "";
    out.enqueue(chunk);
  };
  const controller: TransformStreamDefaultController<SseMessage> = {
    get desiredSize() {
      return out.desiredSize;
    },
    enqueue(message?: SseMessage) {
      text += formatSseMessage(message!);
      if (!inBatch) writeOut();
    },
    error(reason?: unknown) {
      over = true;
      out.error(reason);
      void batches.cancel(reason).catch(() => {});
    },
    terminate() {
      over = true;
      writeOut();
      out.close();
      void batches.cancel().catch(() => {});
    },
  };
  return new ReadableStream<Uint8Array>({
    start(readable) {
      out = readable;
      return render.start?.(controller);
    },
    async pull() {
      // A batch may render nothing (events a dialect does not show): read on until it does.
      while (text === "" && !over) {
        const batch = await batches.next();
        inBatch = true;
        try {
          if (batch === undefined) {
            await render.flush?.(controller);
            writeOut();
            out.close();
            return;
          }
          for (const event of batch) {
            if (over) break;
            const pending = render.transform?.(event, controller);
            if (pending) await pending;
          }
        } catch (err) {
          await batches.cancel(err).catch(() => {});
          throw err;
        } finally {
          inBatch = false;
        }
      }
      if (!over) writeOut();
    },
    async cancel(reason) {
      await render.cancel?.(reason);
      await batches.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Formats one message as SSE text, ending with the blank line that dispatches it. */
function formatSseMessage(message: SseMessage): string {
  let head = "";
  if (message.event !== undefined) {
    if (LINE_BREAK.test(message.event)) {
      throw new Error(`Cannot encode SSE event name: ${JSON.stringify(message.event)}`);
    }
    head = `event: ${message.event}\n`;
  }
  // JSON text never holds a raw line break, so nearly every message is one data line.
  if (!LINE_BREAK.test(message.data)) return `${head}data: ${message.data}\n\n`;
  const lines = message.data.split(LINE_BREAK).map((line) => `data: ${line}\n`);
  return `${head}${lines.join("")}\n`;
}
