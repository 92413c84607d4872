/**
 * The events of a reply a batch (one upstream read) at a time, and the stages that keep the
 * batches: watching the end, cutting the reply short. A source that can do a stage's job
 * itself (pipeToEvents') does it in place, so the stage costs nothing per read.
 */
import type { ChatEvent } from "./chat.ts";

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
  /**
   * Calls `onEnd` once when the batches end or are cancelled, before the end is passed on:
   * onEventsEnd in place, for sources that can (pipeToEvents').
   */
  watchEnd?(onEnd: () => Promise<void>): void;
  /**
   * Ends the batches with `last()` once `signal` aborts, cancelling the source: cutEvents in
   * place, for sources that can (pipeToEvents').
   */
  cutAt?(signal: AbortSignal, last: () => ChatEvent): void;
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
  if (batches?.watchEnd && !events.locked) {
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
  if (batches?.cutAt && !events.locked) {
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
