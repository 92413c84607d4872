/** Anthropic error bodies: `{"type":"error","error":{"type","message"}}` with the right status. */
import type { ErrorKind, GatewayError } from "../../errors.ts";

const ANTHROPIC_ERRORS: Record<ErrorKind, [status: number, type: string]> = {
  invalid_request: [400, "invalid_request_error"],
  context_length: [400, "invalid_request_error"],
  authentication: [401, "authentication_error"],
  kiro_auth: [401, "authentication_error"],
  permission: [403, "permission_error"],
  not_found: [404, "not_found_error"],
  method_not_allowed: [405, "invalid_request_error"],
  payload_too_large: [413, "request_too_large"],
  request_timeout: [408, "invalid_request_error"],
  unsupported_media_type: [415, "invalid_request_error"],
  quota_exceeded: [429, "rate_limit_error"],
  rate_limited: [429, "rate_limit_error"],
  upstream: [502, "api_error"],
  upstream_protocol: [502, "api_error"],
  upstream_unreachable: [502, "api_error"],
  upstream_timeout: [504, "timeout_error"],
  overloaded: [529, "overloaded_error"],
  accounts_unavailable: [503, "api_error"],
  internal: [500, "api_error"],
};

/** The Anthropic error body for `err` (also used in-band as an `error` SSE event). */
export function anthropicErrorBody(err: GatewayError): {
  type: "error";
  error: { type: string; message: string };
} {
  return { type: "error", error: { type: ANTHROPIC_ERRORS[err.kind][1], message: err.message } };
}

/** The HTTP status Anthropic clients expect for `err`. */
export function anthropicErrorStatus(err: GatewayError): number {
  return ANTHROPIC_ERRORS[err.kind][0];
}

/** Renders a GatewayError as an Anthropic error response. */
export function anthropicErrorResponse(err: GatewayError, headers?: HeadersInit): Response {
  const response = Response.json(anthropicErrorBody(err), {
    status: anthropicErrorStatus(err),
    headers,
  });
  if (err.retryAfterSeconds !== undefined) {
    response.headers.set("retry-after", String(Math.ceil(err.retryAfterSeconds)));
  }
  return response;
}
