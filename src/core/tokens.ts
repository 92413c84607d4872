/**
 * Local token estimates. Kiro returns no token counts, so output tokens are counted with the
 * cl100k_base encoding (a close stand-in for Claude's tokenizer) times a correction factor.
 */
import { Tiktoken } from "js-tiktoken/lite";
import cl100kBase from "js-tiktoken/ranks/cl100k_base";

/** Claude's tokenizer yields about 15% more tokens than cl100k_base on typical text. */
export const CLAUDE_CORRECTION_FACTOR = 1.15;

/** Counts tokens of texts; builds its encoder on first use. */
export class TokenCounter {
  #encoder: Tiktoken | undefined;

  /** Counts the cl100k_base tokens of `text` (0 for an empty string). */
  count(text: string): number {
    if (text.length === 0) return 0;
    this.#encoder ??= new Tiktoken(cl100kBase);
    return this.#encoder.encode(text).length;
  }

  /** Counts `text` and applies the Claude correction factor. */
  countClaude(text: string): number {
    return Math.floor(this.count(text) * CLAUDE_CORRECTION_FACTOR);
  }
}
