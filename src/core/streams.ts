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
  /** The next value, or undefined at the end; rejects with the source's failure. */
  next(): Promise<T | undefined>;
  /** Stops reading and cancels what the values come from. */
  cancel(reason?: unknown): Promise<void>;
}

/** A stream that pipeToEvents may read through its plain source instead. */
type WithSource<T> = ReadableStream<T> & { [SOURCE]?: () => PlainSource<T> | undefined };

/**
 * A stream over `source` (pulled only when read; a rejection errors the stream; cancelling
 * it cancels the source) whose reader may also take `source` itself, one hop fewer per value,
 * as long as nobody has locked the stream.
 */
export function sourceStream<T>(source: PlainSource<T>): ReadableStream<T> {
  const stream: WithSource<T> = new ReadableStream<T>({
    async pull(controller) {
      const value = await source.next();
      if (value === undefined) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => source.cancel(reason),
  }, { highWaterMark: 0 });
  stream[SOURCE] = () => {
    if (stream.locked) return undefined;
    // Lock the stream, so the source has one reader only.
    stream.getReader();
    return source;
  };
  return stream;
}

/** The values of `stream`: its plain source when it has one and is not locked, else a reader's. Locks `stream`. */
function plainSource<T>(stream: ReadableStream<T>): PlainSource<T> {
  const own = (stream as WithSource<T>)[SOURCE]?.();
  if (own) return own;
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
type Batchable = ReadableStream<ChatEvent> & {
  [BATCHES]?: () => EventBatches | undefined;
};

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
 * A failure of the source or of a step becomes one final `error` event and the end, so a
 * response that already started can report it in-band. Cancelling the result cancels the
 * source and the steps. The events of one source chunk form one batch (eventBatches).
 */
export function pipeToEvents<I>(
  source: ReadableStream<I>,
  steps: Transformer<I, ChatEvent>,
  options: PipeToEventsOptions = {},
): ReadableStream<ChatEvent> {
  const reader = plainSource(source);
  const { onEvent } = options;
  let batch: ChatEvent[] = [];
  let closed = false;
  const hand = (event: ChatEvent) => {
    onEvent?.(event);
    batch.push(event);
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
    closed = true;
  };
  try {
    void steps.start?.(controller);
  } catch (err) {
    fail(err);
  }
  /**
   * The next batch: what one chunk yields (a chunk may yield nothing, half a frame say, so
   * chunks are read until something is handed on), or undefined at the end.
   */
  const next = async (): Promise<ChatEvent[] | undefined> => {
    while (batch.length === 0 && !closed) {
      let value: I | undefined;
      try {
        value = await reader.next();
      } catch (err) {
        fail(err);
        break;
      }
      try {
        if (value === undefined) {
          void steps.flush?.(controller);
          closed = true;
        } else if (steps.transform) {
          void steps.transform(value, controller);
        } else {
          hand(value as unknown as ChatEvent);
        }
      } catch (err) {
        await reader.cancel(err).catch(() => {});
        fail(err);
      }
    }
    if (batch.length === 0) return undefined;
    const taken = batch;
    batch = [];
    return taken;
  };
  const cancel = (reason: unknown) => {
    void steps.cancel?.(reason);
    return reader.cancel(reason);
  };
  return batchable(next, cancel);
}

/**
 * Calls `onEnd` once when `events` ends, fails or is cancelled (before the end is passed on),
 * keeping its batch view.
 */
export function onEventsEnd(
  events: ReadableStream<ChatEvent>,
  onEnd: () => Promise<void>,
): ReadableStream<ChatEvent> {
  let source: EventBatches | undefined;
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    await onEnd();
  };
  const next = async (): Promise<ChatEvent[] | undefined> => {
    source ??= eventBatches(events);
    let batch: ChatEvent[] | undefined;
    try {
      batch = await source.next();
    } catch (err) {
      await end();
      throw err;
    }
    if (batch === undefined) await end();
    return batch;
  };
  const cancel = async (reason: unknown) => {
    await end();
    await (source ?? events).cancel(reason);
  };
  return batchable(next, cancel);
}

/**
 * The batches of `events`: one array per upstream read when `events` came from pipeToEvents
 * (or onEventsEnd over it) and was not read yet, else arrays of one event. Locks `events`.
 */
export function eventBatches(events: ReadableStream<ChatEvent>): EventBatches {
  const batches = (events as Batchable)[BATCHES]?.();
  if (batches) return batches;
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
 * A stream of events over `next` (the next batch, or undefined at the end) that can be taken
 * as batches instead, as long as nobody has locked it.
 */
function batchable(
  next: () => Promise<ChatEvent[] | undefined>,
  cancel: (reason: unknown) => Promise<void>,
): ReadableStream<ChatEvent> {
  const events: Batchable = new ReadableStream<ChatEvent>({
    async pull(controller) {
      const batch = await next();
      if (batch === undefined) controller.close();
      else for (const event of batch) controller.enqueue(event);
    },
    cancel,
  }, { highWaterMark: 0 });
  events[BATCHES] = () => {
    if (events.locked) return undefined;
    // Lock the event view, so the source has one reader only.
    events.getReader();
    return { next, cancel };
  };
  return events;
}
