/**
 * Plain sources: values pulled one at a time through a promise each, instead of a stream's
 * machinery per hop, and streams that carry one so their reader can take it instead.
 */

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

/**
 * The values of `stream`: its plain source when it has one and is not locked, else a reader's.
 * Locks `stream`.
 */
export function plainSource<T>(stream: ReadableStream<T>): PlainSource<T> {
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
