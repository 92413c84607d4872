/**
 * The gateway's one error type. Every failure a client should hear about is a GatewayError
 * with a kind from the closed ErrorKind union; each dialect maps kinds to its own status and
 * error type in a Record<ErrorKind, ...>, so a new kind fails `deno check` until mapped.
 */

/** What went wrong, independent of any dialect. */
export type ErrorKind =
  /** The client's request is malformed or breaks a rule (400). */
  | "invalid_request"
  /** The conversation does not fit the model's context window or Kiro's payload limit (400). */
  | "context_length"
  /** The client did not present the gateway's API key (401). */
  | "authentication"
  /** The gateway's own Kiro login is dead: the user must log in to Kiro again (401). */
  | "kiro_auth"
  /** Kiro refused access for this account or profile (403). */
  | "permission"
  /** No such route or model (404). */
  | "not_found"
  /** The route exists but not for this HTTP method (405). */
  | "method_not_allowed"
  /** The request body is larger than the gateway accepts (413). */
  | "payload_too_large"
  /** The request body did not arrive in time (408). */
  | "request_timeout"
  /** The request body is in an encoding the gateway cannot read, such as zstd (415). */
  | "unsupported_media_type"
  /** Kiro's monthly quota for this account is used up (402 upstream, 429 to clients). */
  | "quota_exceeded"
  /** Kiro throttled the request (429). */
  | "rate_limited"
  /** Kiro answered with an error or an unexpected status (502). */
  | "upstream"
  /** Kiro's event stream was corrupt or ended inside a frame (502). */
  | "upstream_protocol"
  /** Kiro could not be reached: DNS, refused, reset, TLS, proxy (502). */
  | "upstream_unreachable"
  /** Kiro did not answer in time: first byte or between chunks (504). */
  | "upstream_timeout"
  /** Kiro is overloaded or unavailable (503). */
  | "overloaded"
  /** Every account of the pool failed or is cooling down (503, with Retry-After). */
  | "accounts_unavailable"
  /** A bug or an unexpected failure inside the gateway (500). */
  | "internal";

/** Every ErrorKind, for tables and tests that must cover them all. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "invalid_request",
  "context_length",
  "authentication",
  "kiro_auth",
  "permission",
  "not_found",
  "method_not_allowed",
  "payload_too_large",
  "request_timeout",
  "unsupported_media_type",
  "quota_exceeded",
  "rate_limited",
  "upstream",
  "upstream_protocol",
  "upstream_unreachable",
  "upstream_timeout",
  "overloaded",
  "accounts_unavailable",
  "internal",
];

/** Options of a GatewayError beyond its kind and message. */
export interface GatewayErrorOptions {
  /** The underlying failure, kept for logs; never shown to clients. */
  cause?: unknown;
  /** The request field at fault, as a dotted path (`messages.0.content`). */
  param?: string;
  /** The upstream HTTP status, when the error comes from a Kiro answer. */
  upstreamStatus?: number;
  /** Seconds the client should wait before trying again (rate limits). */
  retryAfterSeconds?: number;
  /** The `reason` of a Kiro error body (`INVALID_MODEL_ID`), for the account pool's decisions. */
  upstreamReason?: string;
}

/** A failure with a kind that each dialect renders in its own error shape. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly kind: ErrorKind;
  readonly param?: string;
  readonly upstreamStatus?: number;
  readonly retryAfterSeconds?: number;
  readonly upstreamReason?: string;

  constructor(kind: ErrorKind, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.param = options.param;
    this.upstreamStatus = options.upstreamStatus;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.upstreamReason = options.upstreamReason;
  }
}

/** Returns `err` if it is a GatewayError, else wraps it as an `internal` error. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError("internal", "Internal gateway error", { cause: err });
}

/** `text` cut to its first 200 characters (and an ellipsis), to quote it in an error message. */
export function shortenForMessage(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
