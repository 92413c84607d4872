/**
 * Tool-call arguments as Kiro streams them: JSON text assembled from fragments. This module
 * decides whether a finished arguments string can be delivered and, when it cannot, whether
 * Kiro's output limit cut it off (spec §4.8, §9.1).
 */

/** Why an arguments string failed to parse, and whether it looks cut off. */
export interface ToolArgumentsDiagnosis {
  truncated: boolean;
  reason: string;
  /** The UTF-8 byte length of the string as received. */
  sizeBytes: number;
}

/** What became of a tool call's assembled arguments. */
export type ToolArgumentsResult =
  | { ok: true; arguments: string }
  | { ok: false; diagnosis: ToolArgumentsDiagnosis };

/**
 * Diagnoses an arguments string that did not parse: truncated when braces, brackets or a string
 * literal are left open, otherwise plain malformed JSON. Braces and brackets inside string
 * literals are not counted, so `{"a": "}"` reads as balanced.
 */
export function diagnoseToolArguments(s: string): ToolArgumentsDiagnosis {
  const trimmed = s.trim();
  if (trimmed.length === 0) return { truncated: false, reason: "empty string", sizeBytes: 0 };
  const sizeBytes = new TextEncoder().encode(s).byteLength;
  const counts = countStructure(trimmed);
  const truncated = (reason: string) => ({ truncated: true, reason, sizeBytes });
  if (trimmed.startsWith("{") && !trimmed.endsWith("}")) {
    const missing = Math.max(1, counts.openBraces - counts.closeBraces);
    return truncated(`missing ${missing} closing brace(s)`);
  }
  if (trimmed.startsWith("[") && !trimmed.endsWith("]")) {
    const missing = Math.max(1, counts.openBrackets - counts.closeBrackets);
    return truncated(`missing ${missing} closing bracket(s)`);
  }
  if (counts.openBraces !== counts.closeBraces) {
    return truncated(
      `unbalanced braces (${counts.openBraces} open, ${counts.closeBraces} close)`,
    );
  }
  if (counts.openBrackets !== counts.closeBrackets) {
    return truncated(
      `unbalanced brackets (${counts.openBrackets} open, ${counts.closeBrackets} close)`,
    );
  }
  if (counts.quotes % 2 === 1) return truncated("unclosed string literal");
  return { truncated: false, reason: "malformed JSON", sizeBytes };
}

/**
 * Turns the assembled arguments of one call into deliverable JSON object text: blank becomes
 * `{}`, an object is kept as received (trimmed, never re-serialized), a JSON string holding an
 * object (double encoding) is unwrapped; anything else is refused with a diagnosis. A valid
 * JSON value that is not an object is refused as "not a JSON object" (not truncated): tools
 * take objects, and guessing a wrapper key would hand the client arguments the model never
 * meant.
 */
export function toToolArguments(raw: string): ToolArgumentsResult {
  const trimmed = raw.trim();
  if (trimmed.length === 0) return { ok: true, arguments: "{}" };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { ok: false, diagnosis: diagnoseToolArguments(raw) };
  }
  if (isObject(value)) return { ok: true, arguments: trimmed };
  if (typeof value === "string") {
    const inner = value.trim();
    try {
      if (isObject(JSON.parse(inner))) return { ok: true, arguments: inner };
    } catch {
      // Not double-encoded JSON: refused below like any other non-object.
    }
  }
  const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
  return {
    ok: false,
    diagnosis: {
      truncated: false,
      reason: `not a JSON object (got ${kind})`,
      sizeBytes: new TextEncoder().encode(raw).byteLength,
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface StructureCounts {
  openBraces: number;
  closeBraces: number;
  openBrackets: number;
  closeBrackets: number;
  /** Unescaped double quotes. */
  quotes: number;
}

function countStructure(s: string): StructureCounts {
  const counts = { openBraces: 0, closeBraces: 0, openBrackets: 0, closeBrackets: 0, quotes: 0 };
  let inString = false;
  let escaped = false;
  for (const ch of s) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') {
        inString = false;
        counts.quotes++;
      }
      continue;
    }
    if (ch === '"') {
      inString = true;
      counts.quotes++;
    } else if (ch === "{") counts.openBraces++;
    else if (ch === "}") counts.closeBraces++;
    else if (ch === "[") counts.openBrackets++;
    else if (ch === "]") counts.closeBrackets++;
  }
  return counts;
}
