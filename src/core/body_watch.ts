/**
 * Watching a response body as it goes out: each chunk just before the client gets it, and its
 * end. A body that can report to a watcher itself (sseBody) is watched in place; any other is
 * wrapped in one more stream.
 */

/** Callbacks of watchBody. */
export interface BodyObserver {
  /** Called with each chunk just before it is handed to the client. */
  onChunk(chunk: Uint8Array): void;
  /** Called once when the body ends, fails or is cancelled; the body closes after it settles. */
  onEnd(): Promise<void>;
}

/** A body source that calls an observer itself, as watchBody's wrapper would. */
export interface WatchableSource {
  /** Starts reporting to `observer`; called before the body is read. */
  watch(observer: BodyObserver): void;
}

/** Where a watchable body keeps its source. */
const WATCHABLE = Symbol("watchable body source");

type Tagged = ReadableStream<Uint8Array> & { [WATCHABLE]?: WatchableSource };

/** Marks `body` as one whose `source` reports to a watcher itself; returns `body`. */
export function watchableBody(
  body: ReadableStream<Uint8Array>,
  source: WatchableSource,
): ReadableStream<Uint8Array> {
  (body as Tagged)[WATCHABLE] = source;
  return body;
}

/**
 * `body` reporting to `observer`: the same stream when its source can report itself and
 * nobody reads it yet, else a stream that forwards it chunk by chunk, reading only when the
 * client reads (so a chunk's report is when it is sent). Cancelling the result cancels `body`.
 */
export function watchBody(
  body: ReadableStream<Uint8Array>,
  observer: BodyObserver,
): ReadableStream<Uint8Array> {
  const source = (body as Tagged)[WATCHABLE];
  if (source && !body.locked) {
    source.watch(observer);
    return body;
  }
  return new ReadableStream<Uint8Array>(new ForwardWatched(body, observer), { highWaterMark: 0 });
}

/** watchBody's wrapper for bodies that cannot report themselves. */
class ForwardWatched implements UnderlyingDefaultSource<Uint8Array> {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #observer: BodyObserver;
  #ended = false;

  constructor(body: ReadableStream<Uint8Array>, observer: BodyObserver) {
    this.#reader = body.getReader();
    this.#observer = observer;
  }

  #end(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#ended = true;
    return this.#observer.onEnd();
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#reader.read();
    } catch (err) {
      await this.#end();
      controller.error(err);
      return;
    }
    if (result.done) {
      await this.#end();
      controller.close();
      return;
    }
    this.#observer.onChunk(result.value);
    controller.enqueue(result.value);
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
    await this.#end();
  }
}
