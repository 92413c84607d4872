/** Builders of real binary Kiro frames for tests, with payload keys sorted as Kiro sends them. */
import { encodeEventFrame, encodeFrame, type HeaderValue } from "../src/kiro/eventstream.ts";

const encoder = new TextEncoder();

function str(value: string): HeaderValue {
  return { type: "string", value };
}

/** Serializes JSON with every object's keys in alphabetical order, as captured traffic has. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const record = item as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((key) => [key, record[key]]));
  });
}

/** An `event` frame of `eventType`; an object payload is sorted JSON, a string is sent raw. */
export function kiroFrame(
  eventType: string,
  payload: Record<string, unknown> | string,
): Uint8Array {
  return encodeEventFrame(eventType, typeof payload === "string" ? payload : sortedJson(payload));
}

/** An assistantResponseEvent carrying one text delta. */
export function textFrame(text: string): Uint8Array {
  return kiroFrame("assistantResponseEvent", { content: text });
}

/** One tool call as Kiro streams it: a start frame, one frame per input chunk, a stop frame. */
export function toolFrames(id: string, name: string, inputChunks: string[]): Uint8Array[] {
  return [
    kiroFrame("toolUseEvent", { name, toolUseId: id }),
    ...inputChunks.map((input) => kiroFrame("toolUseEvent", { input, name, toolUseId: id })),
    kiroFrame("toolUseEvent", { name, stop: true, toolUseId: id }),
  ];
}

/** A reasoningContentEvent with one piece of native reasoning text. */
export function reasoningFrame(text: string): Uint8Array {
  return kiroFrame("reasoningContentEvent", { text });
}

/** The reasoningContentEvent that ends native reasoning with Kiro's signature. */
export function reasoningSignatureFrame(signature: string): Uint8Array {
  return kiroFrame("reasoningContentEvent", { signature });
}

/** A reasoningContentEvent with redacted reasoning (base64 bytes). */
export function redactedReasoningFrame(data: string): Uint8Array {
  return kiroFrame("reasoningContentEvent", { redactedContent: data });
}

/** A metadataEvent carrying Kiro's own token counts. */
export function tokenUsageFrame(usage: Record<string, number>): Uint8Array {
  return kiroFrame("metadataEvent", { tokenUsage: usage });
}

/** A meteringEvent charging `credits`. */
export function meteringFrame(credits: number): Uint8Array {
  return kiroFrame("meteringEvent", { unit: "credit", unitPlural: "credits", usage: credits });
}

/** A contextUsageEvent reporting `pct` percent of the context window used. */
export function contextUsageFrame(pct: number): Uint8Array {
  return kiroFrame("contextUsageEvent", { contextUsagePercentage: pct });
}

/** An `exception` frame such as ThrottlingException with a `{"message"}` payload. */
export function exceptionFrame(type: string, message: string): Uint8Array {
  return encodeFrame({
    headers: {
      ":exception-type": str(type),
      ":content-type": str("application/json"),
      ":message-type": str("exception"),
    },
    payload: encoder.encode(sortedJson({ message })),
  });
}

/** An `error` frame with `:error-code` and `:error-message` headers and no payload. */
export function errorFrame(code: string, message: string): Uint8Array {
  return encodeFrame({
    headers: {
      ":error-code": str(code),
      ":error-message": str(message),
      ":message-type": str("error"),
    },
    payload: new Uint8Array(0),
  });
}

/** Joins byte arrays into one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
