/** OpenAI error bodies: `{"error":{"message","type","param","code"}}` with the right status. */
import type { ErrorKind, GatewayError } from "../../errors.ts";

const OPENAI_ERRORS: Record<ErrorKind, [status: number, type: string, code: string | null]> = {
  invalid_request: [400, "invalid_request_error", null],
  context_length: [400, "invalid_request_error", "context_length_exceeded"],
  authentication: [401, "authentication_error", "invalid_api_key"],
  kiro_auth: [401, "authentication_error", "kiro_login_required"],
  permission: [403, "permission_error", null],
  not_found: [404, "invalid_request_error", "not_found"],
  method_not_allowed: [405, "invalid_request_error", "method_not_allowed"],
  payload_too_large: [413, "invalid_request_error", "request_too_large"],
  request_timeout: [408, "invalid_request_error", "request_timeout"],
  unsupported_media_type: [415, "invalid_request_error", "unsupported_media_type"],
  quota_exceeded: [429, "insufficient_quota", "insufficient_quota"],
  rate_limited: [429, "rate_limit_exceeded", "rate_limit_exceeded"],
  upstream: [502, "api_error", "upstream_error"],
  upstream_protocol: [502, "api_error", "upstream_protocol_error"],
  upstream_unreachable: [502, "api_error", "upstream_unreachable"],
  upstream_timeout: [504, "timeout_error", "upstream_timeout"],
  overloaded: [503, "api_error", "overloaded"],
  accounts_unavailable: [503, "api_error", "accounts_unavailable"],
  internal: [500, "api_error", "internal_error"],
};

/** The OpenAI error object for `err` (also used in-band after a stream has started). */
export function openAiErrorBody(err: GatewayError): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  const [, type, code] = OPENAI_ERRORS[err.kind];
  return { error: { message: err.message, type, param: err.param ?? null, code } };
}

/** The HTTP status OpenAI clients expect for `err`. */
export function openAiErrorStatus(err: GatewayError): number {
  return OPENAI_ERRORS[err.kind][0];
}

/** Renders a GatewayError as an OpenAI error response. */
export function openAiErrorResponse(err: GatewayError, headers?: HeadersInit): Response {
  const response = Response.json(openAiErrorBody(err), {
    status: openAiErrorStatus(err),
    headers,
  });
  if (err.retryAfterSeconds !== undefined) {
    response.headers.set("retry-after", String(Math.ceil(err.retryAfterSeconds)));
  }
  return response;
}
