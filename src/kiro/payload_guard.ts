/**
 * Payload size guard (spec §9.2). Kiro fails requests above about 615 KB with a bare 400, so
 * the size is always checked; with AUTO_TRIM_PAYLOAD the oldest turns are dropped first.
 *
 * Differs from the reference: the first history pair is kept, because the system prompt
 * lives in the first user entry (see request.ts), and dropping it would silently change the
 * model's instructions. Trimming starts with the second pair and stops at the first and the
 * last pair; if that is still too big, the request fails with `context_length`.
 */
import { GatewayError } from "../errors.ts";
import type { KiroHistoryEntry, KiroPayload, KiroUserInputMessage } from "./request.ts";

/** Options of guardPayloadSize. */
export interface PayloadGuardOptions {
  /** The largest payload sent, in UTF-8 bytes of its compact JSON (KIRO_MAX_PAYLOAD_BYTES). */
  maxBytes: number;
  /** Drop the oldest history turns when the payload is too big (AUTO_TRIM_PAYLOAD). */
  autoTrim: boolean;
}

/** What trimming did. */
export type TrimStats = {
  bytesBefore: number;
  bytesAfter: number;
  entriesBefore: number;
  entriesAfter: number;
};

/** Marks the text of tool results whose call was trimmed away. */
export const TRIMMED_RESULT_MARKER = "\n[trimmed tool result] ";

const encoder = new TextEncoder();

/** The size Kiro sees: UTF-8 bytes of the compact JSON of `payload`. */
export function payloadBytes(payload: KiroPayload): number {
  return encoder.encode(JSON.stringify(payload)).byteLength;
}

/** A payload that fits, with the JSON text that is sent and its size in UTF-8 bytes. */
export interface GuardedPayload {
  payload: KiroPayload;
  json: string;
  bytes: number;
  trimmed?: TrimStats;
}

/**
 * Returns `payload` unchanged when it fits, or a trimmed copy with its stats when autoTrim is
 * on, with its JSON text (serialized once, here). Throws a `context_length` GatewayError when
 * it does not fit and cannot be trimmed enough.
 */
export function guardPayloadSize(
  payload: KiroPayload,
  options: PayloadGuardOptions,
): GuardedPayload {
  const json = JSON.stringify(payload);
  const bytesBefore = encoder.encode(json).byteLength;
  if (bytesBefore <= options.maxBytes) return { payload, json, bytes: bytesBefore };
  if (!options.autoTrim) throw tooLarge(bytesBefore, options.maxBytes, false);

  const trimmed = structuredClone(payload);
  const history = trimmed.conversationState.history ?? [];
  const entriesBefore = history.length;
  for (const entry of history) {
    if (
      "assistantResponseMessage" in entry && entry.assistantResponseMessage.toolUses?.length === 0
    ) {
      delete entry.assistantResponseMessage.toolUses;
    }
  }
  const keptPrefix = 2; // the first pair carries the system prompt
  const keptSuffix = 2; // the last pair answers the current message's tool results
  while (
    history.length >= keptPrefix + keptSuffix + 2 && payloadBytes(trimmed) > options.maxBytes
  ) {
    history.splice(keptPrefix, 2);
    repairOrphans(history);
  }
  while (history.length > 0 && !("userInputMessage" in (history[0] as KiroHistoryEntry))) {
    history.shift();
  }
  repairOrphans(history);
  if (history.length === 0) delete trimmed.conversationState.history;

  const trimmedJson = JSON.stringify(trimmed);
  const bytesAfter = encoder.encode(trimmedJson).byteLength;
  if (bytesAfter > options.maxBytes) {
    throw tooLarge(bytesBefore, options.maxBytes, true, bytesAfter);
  }
  return {
    payload: trimmed,
    json: trimmedJson,
    bytes: bytesAfter,
    trimmed: { bytesBefore, bytesAfter, entriesBefore, entriesAfter: history.length },
  };
}

/** Keeps only tool results whose call is in the assistant entry just before; the rest become text. */
function repairOrphans(history: KiroHistoryEntry[]): void {
  history.forEach((entry, index) => {
    if (!("userInputMessage" in entry)) return;
    const previous = history[index - 1];
    const asked = new Set(
      previous && "assistantResponseMessage" in previous
        ? (previous.assistantResponseMessage.toolUses ?? []).map((use) => use.toolUseId)
        : [],
    );
    repairMessage(entry.userInputMessage, asked);
  });
}

function repairMessage(message: KiroUserInputMessage, asked: ReadonlySet<string>): void {
  const context = message.userInputMessageContext;
  const results = context?.toolResults;
  if (!context || !results) return;
  const dropped = results.filter((result) => !asked.has(result.toolUseId));
  if (dropped.length === 0) return;
  const texts = dropped.map((result) => result.content.map((part) => part.text).join(""));
  message.content += TRIMMED_RESULT_MARKER + texts.join("; ");
  const kept = results.filter((result) => asked.has(result.toolUseId));
  if (kept.length > 0) context.toolResults = kept;
  else delete context.toolResults;
  if (Object.keys(context).length === 0) delete message.userInputMessageContext;
}

function tooLarge(bytes: number, maxBytes: number, trimmed: boolean, after?: number): GatewayError {
  const detail = trimmed
    ? `the request is ${bytes} bytes and still ${after} bytes after dropping the oldest turns, above the ${maxBytes}-byte limit (KIRO_MAX_PAYLOAD_BYTES); shorten the latest message or the tool definitions`
    : `the request is ${bytes} bytes, above the ${maxBytes}-byte limit (KIRO_MAX_PAYLOAD_BYTES); shorten the conversation or set AUTO_TRIM_PAYLOAD=true to drop the oldest turns`;
  return new GatewayError("context_length", `Cannot send request to Kiro: ${detail}`);
}
