/**
 * What the per-request log line and debug capture learn about a chat request without the
 * dialect handlers doing anything: the server hands each request a ChatBackend wrapper that
 * notes the model and watches the neutral events for usage, credits and in-band errors.
 */
import type { ChatBackend, ModelInfo, SendContext } from "./core/backend.ts";
import type { ChatEvent, ChatRequest } from "./core/chat.ts";
import type { ErrorKind, GatewayError } from "./errors.ts";
import type { RequestRecord } from "./ops/journal.ts";

/** Facts about one request, filled in as it runs; every field is optional. */
export interface RequestFacts {
  /** The model string as the client sent it. */
  model?: string;
  /** Whether the client asked for a stream. */
  stream?: boolean;
  /** Estimated input tokens (see README: Kiro reports no token counts). */
  inputTokens?: number;
  /** Estimated output tokens. */
  outputTokens?: number;
  /** Kiro credits charged, when a metering event arrived. */
  credits?: number;
  /** An error reported in-band after the response started. */
  streamError?: GatewayError;
  /** When the first response body chunk was sent, in epoch milliseconds. */
  firstByteAt?: number;
  /** The pool account that answered (its name), when there are several. */
  account?: string;
  /** Whether Kiro cut the reply off (the end event's stop reason was max_tokens). */
  truncated?: boolean;
  /** Web searches the gateway ran for this request. */
  webSearches?: number;
}

/**
 * Wraps `backend` for one request: send() records the model and stream flag and asks the
 * backend to show it every event, from which usage and in-band errors are noted.
 */
export function observeBackend(
  backend: ChatBackend,
  facts: RequestFacts,
  context: SendContext,
): ChatBackend {
  return {
    async send(chat: ChatRequest, signal: AbortSignal): Promise<ReadableStream<ChatEvent>> {
      facts.model = chat.model;
      facts.stream = chat.stream;
      return await backend.send(chat, signal, {
        ...context,
        onEvent: (e) => noteEvent(e, facts),
        onAccount: (name) => {
          facts.account = name;
        },
      });
    },
    countInputTokens(chat: ChatRequest): number {
      facts.model ??= chat.model;
      return backend.countInputTokens(chat);
    },
    listModels(): Promise<ModelInfo[]> {
      return backend.listModels();
    },
  };
}

function noteEvent(event: ChatEvent, facts: RequestFacts): void {
  if (event.type === "end") {
    facts.inputTokens = event.usage.inputTokens;
    facts.outputTokens = event.usage.outputTokens;
    facts.credits = event.usage.credits;
    facts.truncated = event.stopReason === "max_tokens";
  } else if (event.type === "error") {
    facts.streamError = event.error;
  }
}

/** The fields of the per-request log line that come from `facts`, without empty ones. */
export function factFields(facts: RequestFacts, startedAt: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    model: facts.model,
    stream: facts.stream,
    ttfbMs: facts.firstByteAt === undefined ? undefined : facts.firstByteAt - startedAt,
    inputTokens: facts.inputTokens,
    outputTokens: facts.outputTokens,
    credits: facts.credits,
    streamError: facts.streamError?.kind,
    account: facts.account,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** What the server knows about a finished request beyond its facts. */
export interface FinishedRequest {
  requestId: string;
  method: string;
  /** The route table's path, or `unmatched`. */
  route: string;
  dialect: "openai" | "anthropic" | "responses";
  status: number;
  startedAt: number;
  finishedAt: number;
  /** The kind of the error that became the response, if one did. */
  errorClass?: ErrorKind;
  /** Turns the client's model name into the bounded label. */
  modelLabel: (clientModel: string) => string;
  /** The account to name when the backend named none (the only one there is). */
  soleAccount?: string;
}

/** The journal and metrics record of a finished request: facts only, no prompt or answer. */
export function toRequestRecord(facts: RequestFacts, done: FinishedRequest): RequestRecord {
  const record: RequestRecord = {
    time: new Date(done.startedAt).toISOString(),
    requestId: done.requestId,
    method: done.method,
    route: done.route,
    dialect: done.dialect,
    status: done.status,
    durationMs: done.finishedAt - done.startedAt,
  };
  if (facts.model !== undefined) {
    record.model = done.modelLabel(facts.model);
    const account = facts.account ?? done.soleAccount;
    if (account !== undefined) record.account = account;
  }
  if (facts.stream !== undefined) record.stream = facts.stream;
  if (facts.firstByteAt !== undefined) record.ttfbMs = facts.firstByteAt - done.startedAt;
  if (facts.inputTokens !== undefined) record.inputTokens = facts.inputTokens;
  if (facts.outputTokens !== undefined) record.outputTokens = facts.outputTokens;
  if (facts.credits !== undefined) record.credits = facts.credits;
  const errorClass = done.errorClass ?? facts.streamError?.kind;
  if (errorClass !== undefined) record.errorClass = errorClass;
  if (facts.truncated) record.truncated = true;
  if (facts.webSearches) record.webSearches = facts.webSearches;
  return record;
}
