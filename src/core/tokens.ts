/**
 * Local token estimates. Kiro returns no token counts, so text is counted with the cl100k_base
 * encoding (a close stand-in for Claude's tokenizer) times a correction factor.
 */
import { encode } from "gpt-tokenizer/encoding/cl100k_base";

/** Claude's tokenizer yields about 15% more tokens than cl100k_base on typical text. */
export const CLAUDE_CORRECTION_FACTOR = 1.15;

/**
 * Runs of non-space characters longer than this are counted in pieces of this size: BPE is
 * quadratic in the length of one word, so a 200 KB run of one letter would take seconds.
 */
const MAX_RUN_CHARS = 256;
/**
 * A long run, matched in bounded slices (a multiple of MAX_RUN_CHARS, so the cuts fall where
 * one whole match would have put them): an unbounded `\S{257,}` overflows V8's regexp stack
 * on a run of some megabytes, and count_tokens answered 500 for such a body.
 */
const LONG_RUN = new RegExp(`\\S{${MAX_RUN_CHARS + 1},${MAX_RUN_CHARS * 16}}`, "g");

/** Texts shorter than this are counted directly; longer ones are cached. */
const MIN_CACHED_CHARS = 512;

/** Options of a TokenCounter. */
export interface TokenCounterOptions {
  /** Characters of text kept in the cache at most (default 16 million). */
  maxCachedChars?: number;
}

/**
 * Counts tokens of texts. Counts of long texts are cached, least recently used first out, so
 * a conversation's history is counted once, not again on every turn.
 */
export class TokenCounter {
  #cache = new Map<string, number>();
  #cachedChars = 0;
  #maxCachedChars: number;

  constructor(options: TokenCounterOptions = {}) {
    this.#maxCachedChars = options.maxCachedChars ?? 16_000_000;
  }

  /** Counts the cl100k_base tokens of `text` (0 for an empty string). */
  count(text: string): number {
    if (text.length < MIN_CACHED_CHARS) return countPieces(text);
    const cached = this.#cache.get(text);
    if (cached !== undefined) {
      this.#cache.delete(text); // re-insert: most recently used last
      this.#cache.set(text, cached);
      return cached;
    }
    const counted = countPieces(text);
    this.#remember(text, counted);
    return counted;
  }

  /** Counts `text` and applies the Claude correction factor. */
  countClaude(text: string): number {
    return Math.floor(this.count(text) * CLAUDE_CORRECTION_FACTOR);
  }

  #remember(text: string, tokens: number): void {
    if (text.length > this.#maxCachedChars) return;
    this.#cache.set(text, tokens);
    this.#cachedChars += text.length;
    for (const key of this.#cache.keys()) {
      if (this.#cachedChars <= this.#maxCachedChars) break;
      this.#cache.delete(key);
      this.#cachedChars -= key.length;
    }
  }
}

function countPieces(text: string): number {
  if (text.length === 0) return 0;
  if (text.length <= MAX_RUN_CHARS) return encode(text).length;
  let total = 0;
  let last = 0;
  for (const match of text.matchAll(LONG_RUN)) {
    total += encode(text.slice(last, match.index)).length;
    const run = match[0];
    for (let i = 0; i < run.length; i += MAX_RUN_CHARS) {
      total += encode(run.slice(i, i + MAX_RUN_CHARS)).length;
    }
    last = match.index + run.length;
  }
  return total + (last < text.length ? encode(text.slice(last)).length : 0);
}
