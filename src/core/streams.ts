/**
 * The reply pipe's driver: synchronous steps run inside one pull stage, errors in-band. Every
 * upstream read becomes one batch of events; a renderer that takes batches (sseBody) writes a
 * whole batch as one chunk, while other readers see the same events one by one.
 */
import { toGatewayError } from "../errors.ts";
import type { ChatEvent } from "./chat.ts";
import { batchable, type EventBatches } from "./event_batches.ts";
import { type PlainSource, plainSource } from "./plain_source.ts";

/** Options of pipeToEvents. */
export interface PipeToEventsOptions {
  /** Sees every event just before it is handed on (logs, metrics); must not throw. */
  onEvent?: (event: ChatEvent) => void;
}

/**
 * Reads `source` only when the result is read, runs each chunk through `steps` (a synchronous
 * transformer, e.g. several chained with chainTransformers) and hands on what it enqueues.
 * A chunk may be lent (see PlainSource.keep): steps that keep bytes past their call copy them.
 * A failure of the source or of a step becomes one final `error` event and the end, so a
 * response that already started can report it in-band. Cancelling the result cancels the
 * source and the steps. The events of one source chunk form one batch (eventBatches).
 */
export function pipeToEvents<I>(
  source: ReadableStream<I>,
  steps: Transformer<I, ChatEvent>,
  options: PipeToEventsOptions = {},
): ReadableStream<ChatEvent> {
  return batchable(new EventPipe(plainSource(source), steps, options.onEvent));
}

/**
 * pipeToEvents' state in one fixed-shape object: the controller the steps write to and the
 * batch source read by the next stage, so no closure is made per stream.
 */
class EventPipe<I> implements TransformStreamDefaultController<ChatEvent>, EventBatches {
  readonly desiredSize = null;
  #reader: PlainSource<I>;
  #steps: Transformer<I, ChatEvent>;
  #onEvent: ((event: ChatEvent) => void) | undefined;
  #batch: ChatEvent[] = [];
  #closed = false;
  /** Told once when the events end or are cancelled (see watchEnd). */
  #onEnd: (() => Promise<void>)[] | undefined = undefined;
  #ended = false;
  /** What cuts the events short (see cutAt), until it has. */
  #cut: { signal: AbortSignal; last: () => ChatEvent; onAbort: () => void } | undefined = undefined;
  #isCut = false;

  constructor(
    reader: PlainSource<I>,
    steps: Transformer<I, ChatEvent>,
    onEvent: ((event: ChatEvent) => void) | undefined,
  ) {
    this.#reader = reader;
    this.#steps = steps;
    this.#onEvent = onEvent;
    try {
      void steps.start?.(this);
    } catch (err) {
      this.#fail(err);
    }
  }

  enqueue(event?: ChatEvent): void {
    this.#onEvent?.(event!);
    this.#batch.push(event!);
  }

  error(reason?: unknown): void {
    throw reason;
  }

  terminate(): void {}

  /** Calls `onEnd` once when the events end or are cancelled, before the end is passed on. */
  watchEnd(onEnd: () => Promise<void>): void {
    (this.#onEnd ??= []).push(onEnd);
  }

  async #end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    for (const onEnd of this.#onEnd!) await onEnd();
  }

  /**
   * Ends the events with `last()` once `signal` aborts: a read waiting on the source is
   * cancelled with the source, and what the steps still hand on is dropped.
   */
  cutAt(signal: AbortSignal, last: () => ChatEvent): void {
    const onAbort = () => {
      this.#isCut = true;
      void this.#steps.cancel?.(signal.reason);
      this.#reader.cancel(signal.reason).catch(() => {});
    };
    this.#cut = { signal, last, onAbort };
    if (signal.aborted) this.#isCut = true;
    else signal.addEventListener("abort", onAbort, { once: true });
  }

  /** Stops watching the cut signal: a long-lived signal keeps no listener per finished reply. */
  #unwatchCut(): void {
    if (this.#cut) this.#cut.signal.removeEventListener("abort", this.#cut.onAbort);
  }

  /** The cut's last event as the final batch. */
  #cutBatch(): ChatEvent[] {
    const { last } = this.#cut!;
    this.#unwatchCut();
    this.#cut = undefined;
    this.#closed = true;
    this.#reader.cancel().catch(() => {});
    this.#batch = [];
    this.enqueue(last());
    const taken = this.#batch;
    this.#batch = [];
    return taken;
  }

  #fail(err: unknown): void {
    this.enqueue({ type: "error", error: toGatewayError(err) });
    this.#closed = true;
  }

  /**
   * The next batch: what one chunk yields (a chunk may yield nothing, half a frame say, so
   * chunks are read until something is handed on), or undefined at the end.
   */
  async next(): Promise<ChatEvent[] | undefined> {
    if (this.#isCut && this.#cut) return this.#cutBatch();
    const steps = this.#steps;
    while (this.#batch.length === 0 && !this.#closed) {
      let value: I | undefined;
      try {
        value = await this.#reader.next();
      } catch (err) {
        this.#fail(err);
        break;
      }
      try {
        if (value === undefined) {
          void steps.flush?.(this);
          this.#closed = true;
        } else if (steps.transform) {
          void steps.transform(value, this);
        } else {
          this.enqueue(value as unknown as ChatEvent);
        }
      } catch (err) {
        await this.#reader.cancel(err).catch(() => {});
        this.#fail(err);
      }
    }
    if (this.#isCut && this.#cut) return this.#cutBatch();
    if (this.#batch.length === 0) {
      this.#unwatchCut();
      if (this.#onEnd) await this.#end();
      return undefined;
    }
    const taken = this.#batch;
    this.#batch = [];
    return taken;
  }

  async cancel(reason?: unknown): Promise<void> {
    this.#unwatchCut();
    if (this.#onEnd) await this.#end();
    void this.#steps.cancel?.(reason);
    await this.#reader.cancel(reason);
  }
}
