/**
 * Kiro error answers turned into GatewayErrors (spec §6.5). Bodies look like
 * `{"message": "...", "reason": "..."}`; the reason decides the kind before the status does.
 */
import { type ErrorKind, GatewayError } from "../errors.ts";

/** What the caller knows beyond the answer itself. */
export interface UpstreamErrorContext {
  /** From describeLikelyCause, appended to "Improperly formed request" messages. */
  likelyCause?: string;
  /** From a Retry-After header, for 429 answers. */
  retryAfterSeconds?: number;
  /** The model id that was sent, named in INVALID_MODEL_ID messages. */
  modelId?: string;
}

/** The longest piece of a non-JSON body quoted in a message. */
export const MAX_QUOTED_BODY_CHARS = 500;

const IMPROPERLY_FORMED = "Improperly formed request";

/** Turns a non-200 Kiro answer into a GatewayError with `upstreamStatus` set. */
export function upstreamError(
  status: number,
  bodyText: string,
  context: UpstreamErrorContext = {},
): GatewayError {
  const { message, reason } = parseBody(bodyText);
  const options = {
    upstreamStatus: status,
    retryAfterSeconds: context.retryAfterSeconds,
    upstreamReason: reason,
  };
  const make = (kind: ErrorKind, text: string) => new GatewayError(kind, text, options);

  if (reason === "CONTENT_LENGTH_EXCEEDS_THRESHOLD") {
    return make(
      "context_length",
      "Kiro rejected the request: the conversation is longer than the model's context window; start a new conversation or compact this one",
    );
  }
  if (reason === "MONTHLY_REQUEST_COUNT" || status === 402) {
    return make(
      "quota_exceeded",
      `Kiro rejected the request: the monthly request quota of this account is used up${
        suffix(message, reason)
      }`,
    );
  }
  if (reason === "INVALID_MODEL_ID") {
    const model = context.modelId ? `model "${context.modelId}"` : "the model";
    return make(
      "invalid_request",
      `Kiro rejected ${model}: the id is unknown or your Kiro subscription does not include it`,
    );
  }
  const noReason = reason === undefined || reason === "null" || reason === "UNKNOWN";
  if (status === 400 && noReason && message.startsWith(IMPROPERLY_FORMED)) {
    const cause = context.likelyCause
      ? `: ${context.likelyCause}`
      : "; no likely cause was found, run with DEBUG_MODE=errors and report the captured request";
    return make("invalid_request", `Kiro rejected the request as improperly formed${cause}`);
  }
  const text = `Kiro answered HTTP ${status}: ${message}${noReason ? "" : ` (reason: ${reason})`}`;
  if (status === 400) return make("invalid_request", text);
  if (status === 401) return make("kiro_auth", text);
  if (status === 403) return make("permission", text);
  if (status === 404) return make("not_found", text);
  if (status === 429) return make("rate_limited", text);
  if (status === 503) return make("overloaded", text);
  if (status >= 400 && status < 500) return make("invalid_request", text);
  return make("upstream", text);
}

function parseBody(bodyText: string): { message: string; reason?: string } {
  const raw = bodyText.trim();
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { message: quote(raw) };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { message: quote(raw) };
  }
  const record = body as Record<string, unknown>;
  const rawMessage = record.message ?? record.Message;
  const message = typeof rawMessage === "string" ? rawMessage.trim() : "Unknown error";
  const reason = typeof record.reason === "string" && record.reason !== ""
    ? record.reason
    : undefined;
  return { message: message.replace(/\.$/, "") || "Unknown error", reason };
}

function quote(text: string): string {
  if (text === "") return "no details";
  return text.length > MAX_QUOTED_BODY_CHARS ? `${text.slice(0, MAX_QUOTED_BODY_CHARS)}…` : text;
}

function suffix(message: string, reason: string | undefined): string {
  return reason
    ? ` (reason: ${reason})`
    : message && message !== "Unknown error"
    ? ` (${message})`
    : "";
}
