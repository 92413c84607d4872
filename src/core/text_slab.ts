/**
 * UTF-8 chunks cut from one buffer. A new ArrayBuffer costs about half a microsecond in V8
 * (its memory lives outside the heap), more than the rest of a small SSE chunk's handling, and
 * a streamed reply writes one chunk per upstream read: so small texts are encoded one after
 * another into a shared buffer, each chunk a view of its own bytes. Bytes handed out are never
 * written again, so a chunk stays valid however long its reader keeps it (the buffer lives as
 * long as any of its chunks); a full buffer is left to those chunks and a new one is taken.
 */
export class TextSlab {
  #buffer: Uint8Array | undefined = undefined;
  #used = 0;
  readonly #size: number;

  /** Cuts chunks from buffers of `size` bytes; a text over half of that gets its own. */
  constructor(size: number = DEFAULT_SLAB_BYTES) {
    this.#size = size;
  }

  /** `text` as UTF-8 bytes. */
  encode(text: string): Uint8Array {
    if (text.length > this.#size / 2) return ENCODER.encode(text);
    const chunk = this.#encodeAfterUsed(text);
    if (chunk) return chunk;
    // It did not fit: what was written past the used bytes was never handed out.
    this.#buffer = new Uint8Array(this.#size);
    this.#used = 0;
    return this.#encodeAfterUsed(text) ?? ENCODER.encode(text);
  }

  /** Encodes `text` after the used bytes and hands them out; undefined when it does not fit. */
  #encodeAfterUsed(text: string): Uint8Array | undefined {
    const buffer = this.#buffer ??= new Uint8Array(this.#size);
    const start = this.#used;
    const { read, written } = ENCODER.encodeInto(
      text,
      start === 0 ? buffer : buffer.subarray(start),
    );
    if (read < text.length) return undefined;
    this.#used = start + written;
    return buffer.subarray(start, this.#used);
  }
}

/**
 * Bytes of one buffer: four chunks of a single delta's SSE text (~250 bytes) share it, and an
 * open stream keeps little (4 KiB buffers added ~20 MiB to the peak of 1,000 streams).
 */
const DEFAULT_SLAB_BYTES = 1024;

/** One encoder for every slab: TextEncoder holds no state between calls. */
const ENCODER = new TextEncoder();
