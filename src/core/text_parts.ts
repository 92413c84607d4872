/**
 * Text kept in pieces until it is needed whole (a reply's text for its final event, say). Pieces
 * are joined every so often, so a long reply is held as a few long strings rather than one
 * small string per delta: the garbage collector copies and scans every object that stays alive,
 * and 100,000 deltas alive at once made it the largest cost of a long streamed reply.
 */
export class TextParts {
  /** Texts joined so far, each of up to JOIN_EVERY pieces. */
  #joined: string[] = [];
  #pieces: string[] = [];
  #length = 0;

  /** Adds `text` at the end. */
  push(text: string): void {
    this.#pieces.push(text);
    this.#length += text.length;
    if (this.#pieces.length === JOIN_EVERY) {
      this.#joined.push(this.#pieces.join(""));
      this.#pieces = [];
    }
  }

  /** The UTF-16 length of the whole text. */
  get length(): number {
    return this.#length;
  }

  /** The whole text. */
  join(): string {
    return this.#joined.join("") + this.#pieces.join("");
  }
}

/** Pieces joined into one string at a time. */
const JOIN_EVERY = 256;
