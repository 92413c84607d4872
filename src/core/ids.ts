/** Random ids as hex, for `chatcmpl-…`, `msg_…`, request ids and tool-call ids. */

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** Returns `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  let hex = "";
  for (const byte of crypto.getRandomValues(new Uint8Array(bytes))) hex += HEX[byte];
  return hex;
}
