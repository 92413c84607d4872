/**
 * The reply pipe's driver: synchronous steps run inside one pull stage, errors in-band. Every
 * upstream read becomes one batch of events; a renderer that takes batches (sseBody) writes a
 * whole batch as one chunk, while other readers see the same events one by one.
 */
import { toGatewayError } from "../errors.ts";
import type { ChatEvent } from "./chat.ts";

/** Options of pipeToEvents. */
export interface PipeToEventsOptions {
  /** Sees every event just before it is handed on (logs, metrics); must not throw. */
  onEvent?: (event: ChatEvent) => void;
}

/** Where a stream made by sourceStream keeps its plain source (see plainSource). */
const SOURCE = Symbol("plain source");

/** Values pulled one at a time: a promise per value instead of a stream's machinery. */
export interface PlainSource<T> {
  /**
   * The next value, or undefined at the end; rejects with the source's failure. A source with
   * `keep` lends its values: each is valid only until the next call.
   */
  next(): Promise<T | undefined>;
  /**
   * A copy of a lent value that stays valid (sources that reuse one buffer for every value);
   * absent when values are the reader's to keep.
   */
  keep?(value: T): T;
  /** Stops reading and cancels what the values come from. */
  cancel(reason?: unknown): Promise<void>;
}

/** A stream that pipeToEvents may read through its plain source instead. */
type WithSource<T> = ReadableStream<T> & { [SOURCE]?: PlainSource<T> };

/**
 * A stream over `source` (pulled only when read; a rejection errors the stream; cancelling
 * it cancels the source) whose reader may also take `source` itself, one hop fewer per value,
 * as long as nobody has locked the stream.
 */
export function sourceStream<T>(source: PlainSource<T>): ReadableStream<T> {
  const stream: WithSource<T> = new ReadableStream<T>(new PullFrom(source), { highWaterMark: 0 });
  stream[SOURCE] = source;
  return stream;
}

/** A stream's underlying source that pulls the values of a plain source, one per pull. */
class PullFrom<T> implements UnderlyingDefaultSource<T> {
  #source: PlainSource<T>;
  constructor(source: PlainSource<T>) {
    this.#source = source;
  }
  async pull(controller: ReadableStreamDefaultController<T>): Promise<void> {
    const source = this.#source;
    const value = await source.next();
    if (value === undefined) controller.close();
    else controller.enqueue(source.keep ? source.keep(value) : value);
  }
  cancel(reason?: unknown): Promise<void> {
    return this.#source.cancel(reason);
  }
}

/** The values of `stream`: its plain source when it has one and is not locked, else a reader's. Locks `stream`. */
function plainSource<T>(stream: ReadableStream<T>): PlainSource<T> {
  const own = (stream as WithSource<T>)[SOURCE];
  if (own && !stream.locked) {
    // Lock the stream, so the source has one reader only.
    stream.getReader();
    return own;
  }
  const reader = stream.getReader();
  return {
    async next() {
      const result = await reader.read();
      return result.done ? undefined : result.value;
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** Where a stream of events keeps the batch view of its source (see eventBatches). */
const BATCHES = Symbol("chat event batches");

/** A stream of events that may also be read a batch (one upstream read) at a time. */
type Batchable = ReadableStream<ChatEvent> & { [BATCHES]?: EventBatches };

/**
 * The events of a reply a batch at a time: a plain source, not a stream, so a batch costs
 * one promise instead of a stream's machinery per hop.
 */
export interface EventBatches {
  /** The next batch (the events of one upstream read), or undefined at the end. */
  next(): Promise<ChatEvent[] | undefined>;
  /** Stops reading and cancels the source. */
  cancel(reason?: unknown): Promise<void>;
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

/**
 * Calls `onEnd` once when `events` ends, fails or is cancelled (before the end is passed on),
 * keeping its batch view. Events straight from pipeToEvents, not read yet, are watched in
 * place (the same stream is returned), so the watch costs no stage per read.
 */
export function onEventsEnd(
  events: ReadableStream<ChatEvent>,
  onEnd: () => Promise<void>,
): ReadableStream<ChatEvent> {
  const batches = (events as Batchable)[BATCHES];
  if (batches instanceof EventPipe && !events.locked) {
    batches.watchEnd(onEnd);
    return events;
  }
  return batchable(new EndWatch(events, onEnd));
}

/**
 * Passes `events` on until `signal` aborts, then ends them with `last()`; their source is
 * cancelled then. Keeps the batches (see eventBatches); events straight from pipeToEvents, not
 * read yet, are cut in place (the same stream is returned), with no stage per read.
 */
export function cutEvents(
  events: ReadableStream<ChatEvent>,
  signal: AbortSignal,
  last: () => ChatEvent,
): ReadableStream<ChatEvent> {
  const batches = (events as Batchable)[BATCHES];
  if (batches instanceof EventPipe && !events.locked) {
    batches.cutAt(signal, last);
    return events;
  }
  return batchable(new EventsCut(events, signal, last));
}

/**
 * cutEvents' stage for other events. The abort cancels the source, which ends a read waiting
 * on it (a cancelled stream answers its pending reads at once), and the next batch is `last()`.
 */
class EventsCut implements EventBatches {
  #events: ReadableStream<ChatEvent>;
  #source: EventBatches | undefined = undefined;
  #signal: AbortSignal;
  #last: () => ChatEvent;
  #onAbort: () => void;
  #cut = false;
  #done = false;

  constructor(events: ReadableStream<ChatEvent>, signal: AbortSignal, last: () => ChatEvent) {
    this.#events = events;
    this.#signal = signal;
    this.#last = last;
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
    return [this.#last()];
  }

  cancel(reason?: unknown): Promise<void> {
    this.#finish();
    return this.#batches().cancel(reason);
  }
}

/** onEventsEnd's state in one fixed-shape object, the batch source of its stream. */
class EndWatch implements EventBatches {
  #events: ReadableStream<ChatEvent>;
  #onEnd: () => Promise<void>;
  #source: EventBatches | undefined = undefined;
  #ended = false;

  constructor(events: ReadableStream<ChatEvent>, onEnd: () => Promise<void>) {
    this.#events = events;
    this.#onEnd = onEnd;
  }

  async #end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#onEnd();
  }

  async next(): Promise<ChatEvent[] | undefined> {
    this.#source ??= eventBatches(this.#events);
    let batch: ChatEvent[] | undefined;
    try {
      batch = await this.#source.next();
    } catch (err) {
      await this.#end();
      throw err;
    }
    if (batch === undefined) await this.#end();
    return batch;
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#end();
    await (this.#source ?? this.#events).cancel(reason);
  }
}

/**
 * The batches of `events`: one array per upstream read when `events` came from pipeToEvents
 * (or onEventsEnd over it) and was not read yet, else arrays of one event. Locks `events`.
 */
export function eventBatches(events: ReadableStream<ChatEvent>): EventBatches {
  const batches = (events as Batchable)[BATCHES];
  if (batches && !events.locked) {
    // Lock the event view, so the source has one reader only.
    events.getReader();
    return batches;
  }
  const reader = events.getReader();
  return {
    async next() {
      const result = await reader.read();
      return result.done ? undefined : [result.value];
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/**
 * A stream of events over `source` (its next batch, or undefined at the end) that can be
 * taken as batches instead (eventBatches), as long as nobody has locked it: how a stage
 * between pipeToEvents and the renderer keeps the batches without a stream hop.
 */
export function batchable(source: EventBatches): ReadableStream<ChatEvent> {
  const events: Batchable = new ReadableStream<ChatEvent>(new PullBatches(source), {
    highWaterMark: 0,
  });
  events[BATCHES] = source;
  return events;
}

/** A stream's underlying source that pulls a batch and enqueues its events one by one. */
class PullBatches implements UnderlyingDefaultSource<ChatEvent> {
  #source: EventBatches;
  constructor(source: EventBatches) {
    this.#source = source;
  }
  async pull(controller: ReadableStreamDefaultController<ChatEvent>): Promise<void> {
    const batch = await this.#source.next();
    if (batch === undefined) controller.close();
    else for (const event of batch) controller.enqueue(event);
  }
  cancel(reason?: unknown): Promise<void> {
    return this.#source.cancel(reason);
  }
}
