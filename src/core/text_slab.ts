/**
 * UTF-8 chunks cut from one buffer. A new ArrayBuffer costs about half a microsecond in V8
 * (its memory lives outside the heap), more than the rest of a small SSE chunk's handling, and
 * a streamed reply writes one chunk per upstream read: so small texts are encoded one after
 * another into a shared buffer, each chunk a view of its own bytes. Bytes are never written
 * twice, so a chunk stays valid however long its reader keeps it (the buffer lives as long as
 * any of its chunks); a full buffer is left to those chunks and a new one is taken.
 */
export class TextSlab {
  #buffer: Uint8Array | undefined = undefined;
  #used = 0;
  readonly #size: number;

  /** Cuts chunks from buffers of `size` bytes; longer texts get a buffer of their own. */
  constructor(size: number = DEFAULT_SLAB_BYTES) {
    this.#size = size;
  }

  /** `text` as UTF-8 bytes. */
  encode(text: string): Uint8Array {
    // Each UTF-16 code unit takes at most 3 bytes.
    const worst = text.length * 3;
    if (worst > this.#size / 4) return ENCODER.encode(text);
    let buffer = this.#buffer;
    if (buffer === undefined || this.#size - this.#used < worst) {
      buffer = this.#buffer = new Uint8Array(this.#size);
      this.#used = 0;
    }
    const start = this.#used;
    const { written } = ENCODER.encodeInto(text, start === 0 ? buffer : buffer.subarray(start));
    this.#used = start + written;
    return buffer.subarray(start, this.#used);
  }
}

/** Bytes of one buffer: a few dozen small chunks, and little kept per open stream. */
const DEFAULT_SLAB_BYTES = 4096;

/** One encoder for every slab: TextEncoder holds no state between calls. */
const ENCODER = new TextEncoder();
