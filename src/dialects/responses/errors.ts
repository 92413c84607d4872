/**
 * Responses errors: before the stream, OpenAI's `{"error":{message,type,param,code}}` with the
 * right status; after it started, the `{code, message}` of `response.failed`, with the codes
 * Codex acts on (spec §7.7): it stops on `context_length_exceeded`, `insufficient_quota` and
 * `invalid_prompt`, waits on `rate_limit_exceeded` ("try again in N s") and retries the rest.
 */
import type { ErrorKind, GatewayError } from "../../errors.ts";
import type { ResponseError } from "./response.ts";

type Row = [status: number, type: string, code: string | null, streamCode: string];

const RESPONSES_ERRORS: Record<ErrorKind, Row> = {
  invalid_request: [400, "invalid_request_error", null, "invalid_prompt"],
  context_length: [
    400,
    "invalid_request_error",
    "context_length_exceeded",
    "context_length_exceeded",
  ],
  authentication: [401, "authentication_error", "invalid_api_key", "invalid_api_key"],
  kiro_auth: [401, "authentication_error", "kiro_login_required", "invalid_api_key"],
  permission: [403, "permission_error", null, "invalid_prompt"],
  not_found: [404, "invalid_request_error", "not_found", "invalid_prompt"],
  method_not_allowed: [405, "invalid_request_error", "method_not_allowed", "invalid_prompt"],
  payload_too_large: [413, "invalid_request_error", "request_too_large", "invalid_prompt"],
  request_timeout: [408, "invalid_request_error", "request_timeout", "invalid_prompt"],
  unsupported_media_type: [
    415,
    "invalid_request_error",
    "unsupported_media_type",
    "invalid_prompt",
  ],
  quota_exceeded: [429, "insufficient_quota", "insufficient_quota", "insufficient_quota"],
  rate_limited: [429, "rate_limit_exceeded", "rate_limit_exceeded", "rate_limit_exceeded"],
  upstream: [502, "api_error", "upstream_error", "server_error"],
  upstream_protocol: [502, "api_error", "upstream_protocol_error", "server_error"],
  upstream_unreachable: [502, "api_error", "upstream_unreachable", "server_error"],
  upstream_timeout: [504, "timeout_error", "upstream_timeout", "server_error"],
  overloaded: [503, "api_error", "server_is_overloaded", "server_is_overloaded"],
  accounts_unavailable: [503, "api_error", "accounts_unavailable", "server_is_overloaded"],
  internal: [500, "api_error", "internal_error", "server_error"],
};

/** The code of an unknown `previous_response_id` (and of an unknown id in GET). */
export const PREVIOUS_RESPONSE_NOT_FOUND = "previous_response_not_found";

function codeOf(err: GatewayError): string | null {
  if (err.kind === "not_found" && err.param === "previous_response_id") {
    return PREVIOUS_RESPONSE_NOT_FOUND;
  }
  return RESPONSES_ERRORS[err.kind][2];
}

/** The OpenAI error body for `err`, before a stream starts. */
export function responsesErrorBody(err: GatewayError): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  const type = RESPONSES_ERRORS[err.kind][1];
  return { error: { message: err.message, type, param: err.param ?? null, code: codeOf(err) } };
}

/** Renders a GatewayError as an OpenAI error response, with Retry-After when known. */
export function responsesErrorResponse(err: GatewayError): Response {
  const response = Response.json(responsesErrorBody(err), {
    status: RESPONSES_ERRORS[err.kind][0],
  });
  if (err.retryAfterSeconds !== undefined) {
    response.headers.set("retry-after", String(Math.ceil(err.retryAfterSeconds)));
  }
  return response;
}

/**
 * The `error` of a `response.failed` for `err`. A rate limit says "Please try again in N s"
 * (Codex reads the wait from the message; 1 s when unknown).
 */
export function responsesStreamError(err: GatewayError): ResponseError {
  const code = RESPONSES_ERRORS[err.kind][3];
  if (err.kind === "rate_limited") {
    const seconds = Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1));
    return { code, message: `${err.message}. Please try again in ${seconds}s.` };
  }
  return { code, message: err.message };
}
