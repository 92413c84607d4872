// PLACEHOLDER: the Anthropic dialect helper replaces this file (same export names and signatures).
import type { HandlerDeps } from "../../core/backend.ts";
import { GatewayError } from "../../errors.ts";

/** POST /v1/messages. */
export function handleMessages(_req: Request, _deps: HandlerDeps): Promise<Response> {
  return Promise.reject(new GatewayError("internal", "Not implemented"));
}

/** POST /v1/messages/count_tokens. */
export function handleCountTokens(_req: Request, _deps: HandlerDeps): Promise<Response> {
  return Promise.reject(new GatewayError("internal", "Not implemented"));
}

/** GET /v1/models in Anthropic's shape (requests that carry anthropic-version). */
export function handleAnthropicModels(_req: Request, _deps: HandlerDeps): Promise<Response> {
  return Promise.reject(new GatewayError("internal", "Not implemented"));
}
