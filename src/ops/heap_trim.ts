/**
 * Gives memory back once a burst is over. V8 grows its young generation during a large answer
 * or many streams and shrinks it only in a later collection, which an idle process does not
 * make: its memory reducer waits for a low allocation rate over a window of seconds, so RSS
 * stays at the burst's size. When the heap has grown and nothing allocates any more, one full
 * collection that also shrinks the young generation brings RSS back near idle.
 */
import type { Logger } from "../log.ts";

/** The V8 heap figures the trimmer watches, in bytes (as Deno.memoryUsage() gives them). */
export interface HeapFigures {
  heapTotal: number;
  heapUsed: number;
}

/** Options of HeapTrimmer. */
export interface HeapTrimOptions {
  /** Collects all garbage and shrinks the heap (see exposedFullGc). */
  collect: () => void;
  /** Reads the heap figures; Deno.memoryUsage by default. */
  memory?: () => HeapFigures;
  /** How often the heap is looked at, in milliseconds; HEAP_TRIM_INTERVAL_MS by default. */
  intervalMs?: number;
  /** Growth of the heap since the last collection that is worth one; MIN_GROWTH_BYTES by default. */
  minGrowthBytes?: number;
  /** Told the heap figures before and after each collection (the gateway logs them). */
  onCollect?: (before: HeapFigures, after: HeapFigures) => void;
  /**
   * Whether a reply is streaming now: no collection runs then, as its pause (~20 ms) would
   * show in the stream. Without it only the heap tells whether the process is idle.
   */
  busy?: () => boolean;
}

/** How often the heap is looked at: a burst's memory is back within two looks after it. */
export const HEAP_TRIM_INTERVAL_MS = 500;

/** Below this the young generation's normal size changes are not worth a full collection. */
const MIN_GROWTH_BYTES = 8 * 1024 * 1024;

/**
 * Heap in use that may change between two looks of an idle process: the looks themselves,
 * keep-alive timers and the like allocate a little; a stream, even a slow one, allocates more.
 */
const IDLE_CHANGE_BYTES = 256 * 1024;

/**
 * Looks at the V8 heap every `intervalMs` and runs `collect` once when the heap has grown by
 * `minGrowthBytes` since the last collection (or the start) and the heap in use has not
 * changed since the previous look. The timer does not keep the process alive; stop() ends it.
 */
export class HeapTrimmer {
  #collect: () => void;
  #onCollect: HeapTrimOptions["onCollect"];
  #memory: () => HeapFigures;
  #minGrowthBytes: number;
  #busy: (() => boolean) | undefined;
  #baselineBytes: number;
  #lastUsedBytes: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: HeapTrimOptions) {
    this.#collect = options.collect;
    this.#onCollect = options.onCollect;
    this.#memory = options.memory ?? (() => Deno.memoryUsage());
    this.#minGrowthBytes = options.minGrowthBytes ?? MIN_GROWTH_BYTES;
    this.#busy = options.busy;
    const start = this.#memory();
    this.#baselineBytes = start.heapTotal;
    this.#lastUsedBytes = start.heapUsed;
    const timer = setInterval(() => this.check(), options.intervalMs ?? HEAP_TRIM_INTERVAL_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** One look at the heap (the timer's); returns whether it collected. */
  check(): boolean {
    const now = this.#memory();
    const idle = Math.abs(now.heapUsed - this.#lastUsedBytes) < IDLE_CHANGE_BYTES;
    this.#lastUsedBytes = now.heapUsed;
    // After a collection the smaller heap is the new baseline, even when it grew back a little,
    // so an idle process is collected once per burst, not at every look.
    this.#baselineBytes = Math.min(this.#baselineBytes, now.heapTotal);
    if (!idle || now.heapTotal - this.#baselineBytes < this.#minGrowthBytes) return false;
    if (this.#busy?.()) return false;
    this.#collect();
    const after = this.#memory();
    this.#baselineBytes = after.heapTotal;
    this.#lastUsedBytes = after.heapUsed;
    this.#onCollect?.(now, after);
    return true;
  }

  /** Stops the looks; calling it again does nothing. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** The options V8's exposed `gc` takes. */
interface GcOptions {
  type: "major" | "minor";
  execution: "sync" | "async";
  flavor: "regular" | "last-resort";
}

/**
 * A full collection that also shrinks the young generation and compacts the old one, when the
 * process runs with `--v8-flags=--expose-gc` (every deno.json task does); undefined otherwise.
 */
export function exposedFullGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options: GcOptions) => unknown }).gc;
  if (typeof gc !== "function") return undefined;
  return () => void gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/**
 * Starts the gateway's HeapTrimmer, which logs each collection at debug level; undefined (and a
 * debug line saying so) when the process runs without `--v8-flags=--expose-gc`.
 */
export function startHeapTrim(
  logger: Logger,
  busy?: () => boolean,
): HeapTrimmer | undefined {
  const collect = exposedFullGc();
  if (!collect) {
    logger.debug("Heap trimming is off: the process runs without --v8-flags=--expose-gc");
    return undefined;
  }
  const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
  return new HeapTrimmer({
    collect,
    busy,
    onCollect: (before, after) =>
      logger.debug("Heap trimmed after a burst", {
        heapTotalMiBBefore: mib(before.heapTotal),
        heapTotalMiBAfter: mib(after.heapTotal),
      }),
  });
}
