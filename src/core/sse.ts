/** Server-sent events on the wire: messages in, UTF-8 bytes out. */
import type { ChatEvent } from "./chat.ts";
import { type BodyObserver, watchableBody, type WatchableSource } from "./body_watch.ts";
import { type EventBatches, eventBatches } from "./event_batches.ts";
import { TextSlab } from "./text_slab.ts";

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
 * outside a batch (its start, a timer's keep-alive) leaves at once: a first chunk ready when
 * the response is returned goes out with its headers. The body reads `events` only when read
 * itself, and cancelling it cancels `events` and `render`. watchBody watches it in place (no
 * stream around it).
 */
export function sseBody(
  events: ReadableStream<ChatEvent>,
  render: Transformer<ChatEvent, SseMessage>,
): ReadableStream<Uint8Array> {
  const source = new SseBodySource(events, render);
  return watchableBody(new ReadableStream<Uint8Array>(source, { highWaterMark: 0 }), source);
}

/**
 * sseBody's state in one fixed-shape object, which is both the body's source and the
 * controller `render` writes to: a class keeps `desiredSize` on its prototype, so V8 keeps
 * instances in fast mode (an object literal with a getter became a dictionary of ~440 bytes
 * per stream), and no closure is made per stream.
 */
class SseBodySource
  implements
    UnderlyingDefaultSource<Uint8Array>,
    TransformStreamDefaultController<SseMessage>,
    WatchableSource {
  #events: ReadableStream<ChatEvent> | undefined;
  #batches: EventBatches | undefined = undefined;
  #render: Transformer<ChatEvent, SseMessage>;
  #out: ReadableStreamDefaultController<Uint8Array> | undefined = undefined;
  #observer: BodyObserver | undefined = undefined;
  /** Chunks enqueued before a watcher came (the start), reported to it when it comes. */
  #unreported: Uint8Array[] | undefined = undefined;
  /** SSE text rendered and not yet enqueued; written out at the end of each batch. */
  #text = "";
  /** Where the chunks' bytes are cut from. */
  #slab = new TextSlab();
  /** While set, what `render` enqueues waits in #text: during a batch. */
  #holding = false;
  /** No more events are rendered: the end came, or render ended the body. */
  #over = false;
  /** The body is closed, errored or cancelled: nothing more can be enqueued. */
  #closed = false;
  #ended = false;

  constructor(events: ReadableStream<ChatEvent>, render: Transformer<ChatEvent, SseMessage>) {
    this.#events = events;
    this.#render = render;
  }

  watch(observer: BodyObserver): void {
    this.#observer = observer;
    for (const chunk of this.#unreported ?? []) observer.onChunk(chunk);
    this.#unreported = undefined;
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
    if (this.#text === "" || this.#closed) return;
    const chunk = this.#slab.encode(this.#text);
    this.#text = "";
    if (this.#observer) this.#observer.onChunk(chunk);
    else (this.#unreported ??= []).push(chunk);
    this.#out!.enqueue(chunk);
  }

  /** Tells the observer, once, that the body is over. */
  #end(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#ended = true;
    return this.#observer?.onEnd() ?? Promise.resolve();
  }

  /** Runs `last` (which closes or errors the body) once the observer has seen the end. */
  #finish(last: () => void): void {
    const run = () => {
      if (this.#closed) return;
      last();
      this.#closed = true;
    };
    void this.#end().then(run, run);
  }

  get desiredSize(): number | null {
    return this.#out?.desiredSize ?? null;
  }

  enqueue(message?: SseMessage): void {
    if (this.#closed) return;
    this.#text += formatSseMessage(message!);
    if (!this.#holding) this.#writeOut();
  }

  error(reason?: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#text = "";
    void this.#source().cancel(reason).catch(() => {});
    this.#finish(() => this.#out!.error(reason));
  }

  terminate(): void {
    if (this.#over) return;
    this.#over = true;
    void this.#source().cancel().catch(() => {});
    this.#finish(() => {
      this.#writeOut();
      this.#out!.close();
    });
  }

  start(readable: ReadableStreamDefaultController<Uint8Array>): void | PromiseLike<void> {
    this.#out = readable;
    this.#source();
    // What the start renders leaves as one chunk, queued before the response is returned.
    this.#holding = true;
    try {
      return this.#render.start?.(this);
    } finally {
      this.#holding = false;
      this.#writeOut();
    }
  }

  async pull(): Promise<void> {
    const batches = this.#source();
    const render = this.#render;
    try {
      // A batch may render nothing (events a dialect does not show): read on until it does.
      while (this.#text === "" && !this.#over) {
        const batch = await batches.next();
        this.#holding = true;
        try {
          if (batch === undefined) {
            await render.flush?.(this);
            if (this.#over) return; // render ended the body itself
            this.#over = true;
            this.#holding = false;
            this.#writeOut();
            await this.#end();
            this.#closed = true;
            this.#out!.close();
            return;
          }
          for (const event of batch) {
            if (this.#over) break;
            const pending = render.transform?.(event, this);
            if (pending) await pending;
          }
        } finally {
          this.#holding = false;
        }
      }
    } catch (err) {
      this.#over = true;
      this.#closed = true;
      await batches.cancel(err).catch(() => {});
      await this.#end();
      throw err;
    }
    if (!this.#over) this.#writeOut();
  }

  async cancel(reason?: unknown): Promise<void> {
    this.#over = true;
    this.#closed = true;
    try {
      await this.#render.cancel?.(reason);
      await this.#source().cancel(reason);
    } finally {
      await this.#end();
    }
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
