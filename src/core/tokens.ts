/**
 * Local token estimates. Kiro returns no token counts, so text is estimated: it is cut into
 * runs of one kind of character (ASCII letters, other letters, digits, punctuation, spaces,
 * line breaks, CJK), and each run adds the tokens a run of its kind and length has on
 * average in `cl100k_base` (a close stand-in for Claude's tokenizer), learned once from a
 * corpus of agent requests, documentation and code (BENCHMARKS.md: "Token estimates"). On
 * such text the sum stays within about ±10% of cl100k_base, at a fraction of the cost and
 * without its 30 MB of tables. Output is then multiplied by a correction factor.
 */

/** Claude's tokenizer yields about 15% more tokens than cl100k_base on typical text. */
export const CLAUDE_CORRECTION_FACTOR = 1.15;

// Kinds of runs. A word after exactly one space takes the space in (as BPE does): its run
// kind is the word's plus SPACED, and its length counts the space.
const ASCII_WORD = 0;
const OTHER_WORD = 1;
const DIGITS = 2;
const PUNCTUATION = 3;
const SPACES = 4;
const LINE_BREAKS = 5;
const CJK = 6;
const SPACED = 7;

/** Average cl100k_base tokens of a run by kind and length (1 to 32; longer: per character). */
// deno-fmt-ignore
const RUN_TOKENS: readonly (readonly number[])[] = [
  [0, 0.71, 0.55, 0.62, 0.6, 0.44, 0.58, 0.69, 1, 1.26, 0.93, 1.17, 1.53, 1.89, 1.77, 2.15, 2.28, 2.05, 2.17, 2.29, 2.49, 2.62, 2.74, 2.87, 2.99, 3.12, 3.24, 3.36, 3.49, 3.61, 3.74, 3.86, 3.99],
  [0, 0.82, 1.64, 2.45, 3.24, 4.05, 4.88, 5.73, 6.5, 7.38, 8.17, 8.94, 9.77, 10.39, 11.2, 11.94, 13.02, 13.84, 14.65, 15.46, 16.28, 17.09, 17.91, 18.72, 19.53, 20.35, 21.16, 21.98, 22.79, 23.6, 24.42, 25.23, 26.05],
  [0, 0.85, 1.21, 1.35, 2.08, 2.6, 3.12, 3.64, 4.16, 4.68, 5.2, 5.72, 6.24, 6.76, 7.28, 7.8, 8.32, 8.84, 9.36, 9.88, 10.4, 10.93, 11.45, 11.97, 12.49, 13.01, 13.53, 14.05, 14.57, 15.09, 15.61, 16.13, 16.65],
  [0, 0.7, 1.02, 1.21, 2.13, 2.65, 4.01, 3.68, 5.34, 6.32, 7.03, 7.73, 8.43, 9.13, 9.84, 10.54, 11.24, 11.94, 12.65, 13.35, 14.05, 14.75, 15.46, 16.16, 16.86, 17.56, 18.27, 18.97, 19.67, 20.37, 21.08, 21.78, 22.48],
  [0, 0.99, 2, 2.01, 2, 2.5, 2, 2.33, 2, 2.25, 2, 2.2, 2, 2.17, 2, 2.14, 2, 2.12, 2, 2.11, 2, 2.1, 2, 2.09, 2, 2.08, 2.17, 2.25, 2.33, 2.42, 2.5, 2.58, 2.21],
  [0, 0.13, 0.06, 0.09, 0.12, 0.15, 0.18, 0.21, 0.24, 0.27, 0.3, 0.34, 0.37, 0.4, 0.43, 0.46, 0.49, 0.52, 0.55, 0.58, 0.61, 0.64, 0.67, 0.7, 0.73, 0.76, 0.79, 0.82, 0.85, 0.88, 0.92, 0.95, 0.98],
  [0, 0.84, 1.68, 2.52, 3.36, 4.2, 5.04, 5.88, 6.72, 7.56, 8.4, 9.24, 10.08, 10.92, 11.76, 12.6, 13.44, 14.28, 15.12, 15.96, 16.8, 17.64, 18.48, 19.32, 20.16, 21, 21.84, 22.68, 23.52, 24.36, 25.2, 26.04, 26.88],
  [0, 1, 1.02, 1, 1.01, 1.04, 1.01, 1.03, 1.06, 1.17, 1.27, 1.43, 1.68, 1.91, 2.2, 2.65, 2.93, 3.15, 3.06, 3.63, 3.39, 4.04, 4.23, 4.42, 4.62, 4.81, 5, 5.19, 5.39, 5.58, 5.77, 5.96, 6.16],
  [0, 1, 1.23, 2.49, 3.59, 4.49, 5.38, 6.28, 7.18, 8.08, 8.97, 9.87, 10.77, 11.67, 12.56, 13.46, 14.36, 15.26, 16.16, 17.05, 17.95, 18.85, 19.74, 20.64, 21.54, 22.44, 23.34, 24.23, 25.13, 26.03, 26.92, 27.82, 28.72],
];
const LONGEST_RUN = 32;
/**
 * The table's sums run about 4% over cl100k_base on agent requests (the corpus was heavier in
 * code), so they are scaled down to match there.
 */
const SCALE = 0.96;

/** Tokens of a run of `kind` and `length`. */
function runTokens(kind: number, length: number): number {
  const row = RUN_TOKENS[kind]!;
  return length <= LONGEST_RUN ? row[length]! : row[LONGEST_RUN]! / LONGEST_RUN * length;
}

/** The run kind of a UTF-16 code unit. */
function kindOf(code: number): number {
  if ((code >= 97 && code <= 122) || (code >= 65 && code <= 90)) return ASCII_WORD;
  if (code >= 48 && code <= 57) return DIGITS;
  if (code === 32 || code === 9) return SPACES;
  if (code === 10 || code === 13) return LINE_BREAKS;
  if (code < 128) return PUNCTUATION;
  if ((code >= 0x3000 && code <= 0x9fff) || (code >= 0xac00 && code <= 0xd7af)) return CJK;
  if (code >= 0xf900 && code <= 0xfaff) return CJK;
  if (code >= 0xd800 && code <= 0xdfff) return PUNCTUATION; // emoji and other astral symbols
  if (code === 0xa0 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029) {
    return SPACES;
  }
  if (code >= 0x2010 && code <= 0x2bff) return PUNCTUATION;
  return OTHER_WORD;
}

/** kindOf of every ASCII code, looked up instead of tested on the hot path. */
const ASCII_KINDS: Uint8Array = Uint8Array.from({ length: 128 }, (_, code) => kindOf(code));

/**
 * A running token estimate of text given in pieces: adding a text in several parts gives the
 * same estimate as adding it whole, so a reply is counted as it streams, without keeping it.
 */
export class TokenTally {
  #sum = 0;
  #kind = -1;
  #length = 0;
  #spaced = false;
  /** Whether the open run is exactly one space (a word after it takes it in). */
  #oneSpace = false;

  /** Adds `text` to the estimate. */
  add(text: string): void {
    let kind = this.#kind;
    let length = this.#length;
    let spaced = this.#spaced;
    let oneSpace = this.#oneSpace;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      const next = code < 128 ? ASCII_KINDS[code]! : kindOf(code);
      if (next <= OTHER_WORD && kind >= 0 && kind <= OTHER_WORD) {
        if (next === OTHER_WORD) kind = OTHER_WORD;
        length++;
        continue;
      }
      if (next === kind) {
        length++;
        oneSpace = false;
        continue;
      }
      if (length > 0) {
        if (oneSpace && next <= OTHER_WORD) {
          // The space goes into the word that follows it.
          kind = next;
          length = 2;
          spaced = true;
          oneSpace = false;
          continue;
        }
        this.#sum += runTokens(spaced ? kind + SPACED : kind, length);
      }
      kind = next;
      length = 1;
      spaced = false;
      oneSpace = code === 32;
    }
    this.#kind = kind;
    this.#length = length;
    this.#spaced = spaced;
    this.#oneSpace = oneSpace;
  }

  /** The estimate of everything added so far, in whole tokens. */
  tokens(): number {
    const open = this.#length > 0
      ? runTokens(this.#spaced ? this.#kind + SPACED : this.#kind, this.#length)
      : 0;
    return Math.round((this.#sum + open) * SCALE);
  }
}

/** A running count of a text given in pieces (a reply as it streams), in Claude tokens. */
export interface ClaudeTally {
  add(text: string): void;
  tokens(): number;
}

/** Options of a TokenCounter (none are needed any more; kept for callers that pass some). */
export interface TokenCounterOptions {
  /** No longer used: estimates are cheap enough not to be cached. */
  maxCachedChars?: number;
}

/** Estimates the tokens of texts. */
export class TokenCounter {
  constructor(_options: TokenCounterOptions = {}) {}

  /** Estimates the cl100k_base tokens of `text` (0 for an empty string). */
  count(text: string): number {
    if (text.length === 0) return 0;
    const tally = new TokenTally();
    tally.add(text);
    return tally.tokens();
  }

  /** Estimates `text` and applies the Claude correction factor. */
  countClaude(text: string): number {
    return claudeTokens(this.count(text));
  }

  /** A running countClaude of a text given in pieces: the same number, without the text. */
  tally(): ClaudeTally {
    const tally = new TokenTally();
    return { add: (text) => tally.add(text), tokens: () => claudeTokens(tally.tokens()) };
  }
}

/** `tokens` (a cl100k_base estimate) with the Claude correction factor applied. */
export function claudeTokens(tokens: number): number {
  return Math.floor(tokens * CLAUDE_CORRECTION_FACTOR);
}
