/**
 * Tool calls a model wrote as text instead of using the tool channel (spec §4.8): the pattern
 * `[Called <name> with args: {…}]`, case-insensitive, with the JSON object matched brace by brace
 * (braces inside JSON strings do not count).
 */

/** A tool call found in text: the name as written and the JSON object text of its arguments. */
export interface BracketCall {
  name: string;
  arguments: string;
}

const OPENING = /\[called\s+(\w+)\s+with\s+args:\s*/gi;

/** Finds every `[Called name with args: {...}]` in `text` whose arguments are a JSON object. */
export function findBracketCalls(text: string): BracketCall[] {
  const calls: BracketCall[] = [];
  for (const match of text.matchAll(OPENING)) {
    const start = match.index + match[0].length;
    if (text[start] !== "{") continue;
    const end = matchingBrace(text, start);
    if (end < 0) continue;
    const json = text.slice(start, end + 1);
    try {
      const value: unknown = JSON.parse(json);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        calls.push({ name: match[1]!, arguments: json });
      }
    } catch {
      // Not JSON after all: prose that happens to look like a call.
    }
  }
  return calls;
}

/** The index of the `}` closing the `{` at `start`, or -1 when the text ends first. */
export function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "{") {
      depth++;
    } else if (char === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}
