/** Server-sent events on the wire: messages in, UTF-8 bytes out. */
import type { ChatEvent } from "./chat.ts";
import { type EventBatches, eventBatches } from "./streams.ts";

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
  return new ReadableStream<Uint8Array>(new SseBodySource(events, render), { highWaterMark: 0 });
}

/** One encoder for every body: TextEncoder holds no state between calls. */
const ENCODER = new TextEncoder();

/**
 * sseBody's state in one fixed-shape object, which is both the body's source and the
 * controller `render` writes to: a class keeps `desiredSize` on its prototype, so V8 keeps
 * instances in fast mode (an object literal with a getter became a dictionary of ~440 bytes
 * per stream), and no closure is made per stream.
 */
class SseBodySource
  implements UnderlyingDefaultSource<Uint8Array>, TransformStreamDefaultController<SseMessage> {
  #events: ReadableStream<ChatEvent> | undefined;
  #batches: EventBatches | undefined = undefined;
  #render: Transformer<ChatEvent, SseMessage>;
  #out: ReadableStreamDefaultController<Uint8Array> | undefined = undefined;
  /** SSE text rendered and not yet enqueued; written out at the end of each batch. */
  #text = "";
  #inBatch = false;
  #over = false;

  constructor(events: ReadableStream<ChatEvent>, render: Transformer<ChatEvent, SseMessage>) {
    this.#events = events;
    this.#render = render;
  }

  /** The batch view, taken at once (it locks `events`, as reading the body would). */
  #source(): EventBatches {
    if (!this.#batches) {
      this.#batches = eventBatches(this.#events!);
      this.#events = undefined;
    }
    return this.#batches;
  }

  #writeOut(): void {
    if (this.#text === "") return;
    const chunk = ENCODER.encode(this.#text);
    this.#text = "";
    this.#out!.enqueue(chunk);
  }

  get desiredSize(): number | null {
    return this.#out?.desiredSize ?? null;
  }

  enqueue(message?: SseMessage): void {
    this.#text += formatSseMessage(message!);
    if (!this.#inBatch) this.#writeOut();
  }

  error(reason?: unknown): void {
    this.#over = true;
    this.#out!.error(reason);
    void this.#source().cancel(reason).catch(() => {});
  }

  terminate(): void {
    this.#over = true;
    this.#writeOut();
    this.#out!.close();
    void this.#source().cancel().catch(() => {});
  }

  start(readable: ReadableStreamDefaultController<Uint8Array>): void | PromiseLike<void> {
    this.#out = readable;
    this.#source();
    return this.#render.start?.(this);
  }

  async pull(): Promise<void> {
    const batches = this.#source();
    const render = this.#render;
    // A batch may render nothing (events a dialect does not show): read on until it does.
    while (this.#text === "" && !this.#over) {
      const batch = await batches.next();
      this.#inBatch = true;
      try {
        if (batch === undefined) {
          await render.flush?.(this);
          this.#writeOut();
          this.#out!.close();
          return;
        }
        for (const event of batch) {
          if (this.#over) break;
          const pending = render.transform?.(event, this);
          if (pending) await pending;
        }
      } catch (err) {
        await batches.cancel(err).catch(() => {});
        throw err;
      } finally {
        this.#inBatch = false;
      }
    }
    if (!this.#over) this.#writeOut();
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#render.cancel?.(reason);
    await this.#source().cancel(reason);
  }
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
