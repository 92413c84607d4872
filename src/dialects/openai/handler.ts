// PLACEHOLDER: the OpenAI dialect helper replaces this file (same export names and signatures).
import type { HandlerDeps } from "../../core/backend.ts";
import { GatewayError } from "../../errors.ts";

/** POST /v1/chat/completions. */
export function handleChatCompletions(_req: Request, _deps: HandlerDeps): Promise<Response> {
  return Promise.reject(new GatewayError("internal", "Not implemented"));
}

/** GET /v1/models in OpenAI's list shape. */
export function handleOpenAiModels(_req: Request, _deps: HandlerDeps): Promise<Response> {
  return Promise.reject(new GatewayError("internal", "Not implemented"));
}
