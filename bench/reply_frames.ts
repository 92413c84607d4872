/**
 * Realistic Kiro answers for benchmarks: text deltas of 20 to 60 characters in real binary
 * frames, an optional `<thinking>` block first, then the metering and context-usage frames
 * Kiro ends a reply with.
 */
import { contextUsageFrame, meteringFrame, textFrame } from "../tests/frames.ts";

const WORDS = [
  "the",
  "file",
  "function",
  "returns",
  "a",
  "value",
  "when",
  "config",
  "is",
  "set",
  "stream",
  "gateway",
  "request",
  "answer",
];

/** The shape of a benchmark answer. */
export interface ReplyShape {
  /** Characters of answer text (ASCII, so also its UTF-8 bytes), before the thinking block. */
  textChars: number;
  /** Characters of a `<thinking>` block sent before the text; none when 0 or absent. */
  thinkingChars?: number;
  /** Every text delta this long (the last may be shorter) instead of 20 to 60 characters. */
  deltaChars?: number;
}

/** Splits `chars` characters of deterministic prose into deltas of 20 to 60 characters. */
export function buildDeltas(chars: number, seed = 7): string[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const deltas: string[] = [];
  let left = chars;
  while (left > 0) {
    const size = Math.min(left, 20 + Math.floor(next() * 41));
    let delta = "";
    while (delta.length < size) delta += `${WORDS[Math.floor(next() * WORDS.length)]} `;
    deltas.push(delta.slice(0, size));
    left -= size;
  }
  return deltas;
}

function textDeltas(shape: ReplyShape): string[] {
  if (shape.deltaChars === undefined) return buildDeltas(shape.textChars);
  const text = buildDeltas(shape.textChars).join("");
  const deltas: string[] = [];
  for (let at = 0; at < text.length; at += shape.deltaChars) {
    deltas.push(text.slice(at, at + shape.deltaChars));
  }
  return deltas;
}

/** The frames of one answer: thinking deltas, text deltas, metering, context usage. */
export function buildReplyFrames(shape: ReplyShape): Uint8Array[] {
  const thinking = shape.thinkingChars
    ? ["<thinking>", ...buildDeltas(shape.thinkingChars, 11), "</thinking>\n\n"]
    : [];
  return [
    ...[...thinking, ...textDeltas(shape)].map((text) => textFrame(text)),
    meteringFrame(0.0123),
    contextUsageFrame(2.5),
  ];
}

/**
 * The chunks an upstream writes: one per frame when `chunkBytes` is absent (a model streaming
 * token by token), else the frames joined and cut every `chunkBytes` bytes (bulk transfer).
 */
export function toChunks(frames: Uint8Array[], chunkBytes?: number): Uint8Array[] {
  if (chunkBytes === undefined) return frames;
  // Not concatBytes(...frames): a 5 MiB answer has too many frames to spread as arguments.
  const all = new Uint8Array(byteLength(frames));
  let filled = 0;
  for (const frame of frames) {
    all.set(frame, filled);
    filled += frame.byteLength;
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < all.byteLength; at += chunkBytes) {
    chunks.push(all.subarray(at, at + chunkBytes));
  }
  return chunks;
}

/** The total byte length of `chunks`. */
export function byteLength(chunks: Uint8Array[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
}
