/**
 * Memory of replies that Kiro cut off (spec §9.1). The stream side remembers a truncated text
 * reply or tool call; the next request that carries it back gets a notice for the model.
 * Entries are one-shot and bounded: the oldest entry goes first when the store is full.
 */
import { createHash } from "node:crypto";

/** What is known about a tool call whose arguments were cut off. */
export interface ToolTruncation {
  /** The tool name as the client knows it. */
  name: string;
  /** A short diagnosis such as `unterminated string`. */
  reason: string;
  /** Bytes of arguments received before the cut. */
  sizeBytes: number;
}

/** Options of a TruncationStore. */
export interface TruncationStoreOptions {
  /** The most entries of each kind kept; the oldest is evicted first (default 1000). */
  maxEntries?: number;
}

/** Default bound on remembered entries of each kind. */
export const DEFAULT_TRUNCATION_ENTRIES = 1000;

/** Characters of a reply's text its truncation key is made of. */
export const TRUNCATION_TEXT_KEY_CHARS = 500;

/** Returns the lookup key of an assistant text: 16 hex of SHA-256 of its first 500 characters. */
export function truncationTextKey(text: string): string {
  return createHash("sha256").update(text.slice(0, TRUNCATION_TEXT_KEY_CHARS)).digest("hex").slice(
    0,
    16,
  );
}

/** Bounded one-shot memory of truncated text replies and tool calls. */
export class TruncationStore {
  readonly maxEntries: number;
  #texts = new Map<string, true>();
  #tools = new Map<string, ToolTruncation>();

  constructor(options: TruncationStoreOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_TRUNCATION_ENTRIES);
  }

  /** Remembers that `assistantText` was cut off by the upstream output limit. */
  rememberText(assistantText: string): void {
    remember(this.#texts, truncationTextKey(assistantText), true, this.maxEntries);
  }

  /** Returns whether `assistantText` was remembered as truncated, and forgets it. */
  takeText(assistantText: string): boolean {
    return this.#texts.delete(truncationTextKey(assistantText));
  }

  /** Remembers that the arguments of tool call `toolUseId` were cut off. */
  rememberTool(toolUseId: string, info: ToolTruncation): void {
    remember(this.#tools, toolUseId, { ...info }, this.maxEntries);
  }

  /** Returns what was remembered about tool call `toolUseId`, and forgets it. */
  takeTool(toolUseId: string): ToolTruncation | undefined {
    const info = this.#tools.get(toolUseId);
    this.#tools.delete(toolUseId);
    return info;
  }

  /** Counts the remembered entries of each kind. */
  stats(): { texts: number; tools: number } {
    return { texts: this.#texts.size, tools: this.#tools.size };
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V, maxEntries: number): void {
  map.delete(key); // re-insert so a repeated key counts as the newest
  map.set(key, value);
  while (map.size > maxEntries) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
