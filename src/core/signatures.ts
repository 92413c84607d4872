/**
 * Marks on the reasoning signatures and redacted reasoning the gateway hands to clients. Kiro
 * needs its signature back with the reasoning on the next turn (spec §8.6), and clients carry
 * it for us (Anthropic `signature`, Responses `encrypted_content`), but they may also carry
 * signatures from elsewhere: another provider's, or the placeholder the gateway puts on
 * tag-derived thinking. Only values with the gateway's mark go back to Kiro, unmarked.
 */

const SIGNATURE_MARK = "kgw1.sig.";
const REDACTED_MARK = "kgw1.red.";

/** Marks a Kiro reasoning signature for a client. */
export function toClientSignature(kiroSignature: string): string {
  return SIGNATURE_MARK + kiroSignature;
}

/** Marks Kiro's redacted reasoning content for a client. */
export function toClientRedacted(kiroData: string): string {
  return REDACTED_MARK + kiroData;
}

/** Kiro's signature inside a client's value, or undefined when the gateway did not make it. */
export function fromClientSignature(value: unknown): string | undefined {
  return unmark(value, SIGNATURE_MARK);
}

/** Kiro's redacted content inside a client's value, or undefined when not the gateway's. */
export function fromClientRedacted(value: unknown): string | undefined {
  return unmark(value, REDACTED_MARK);
}

function unmark(value: unknown, mark: string): string | undefined {
  if (typeof value !== "string" || !value.startsWith(mark)) return undefined;
  const inner = value.slice(mark.length);
  return inner === "" ? undefined : inner;
}
