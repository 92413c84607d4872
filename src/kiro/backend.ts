/**
 * KiroBackend: the ChatBackend that talks to Kiro. It resolves the model, builds and checks the
 * payload, sends it, and pipes the body through the decoding steps, fused into one stage:
 * bytes → frames → Kiro events → chat events → thinking split → truncation memory.
 *
 * Thinking is asked natively when the catalogue advertises reasoning fields for the model
 * (spec §8.6), else with `<thinking>` tags. When Kiro answers 400 to a request with the native
 * fields, the request is sent once more without them and without history reasoning (tags
 * instead); if that one is accepted, the model is remembered as not taking the fields, for
 * NATIVE_REJECTION_TTL_MS, unless the rejected request carried signed reasoning (which only a
 * model that took the fields can have produced).
 */
import type { Config } from "../config.ts";
import { GatewayError } from "../errors.ts";
import type { ChatBackend, ModelInfo, SendContext } from "../core/backend.ts";
import type { ChatEvent, ChatRequest, WebSearchHit } from "../core/chat.ts";
import { estimateInputTokens } from "../core/estimate.ts";
import { jsonFence } from "../core/json_fence.ts";
import { chainTransformers } from "../core/fuse.ts";
import { replyEvents } from "../core/reply.ts";
import { pipeToEvents } from "../core/streams.ts";
import { thinkingSplit } from "../core/thinking.ts";
import { truncatedText } from "../core/truncated_text.ts";
import type { TokenCounter } from "../core/tokens.ts";
import type { TruncationStore } from "../core/truncation.ts";
import type { Logger } from "../log.ts";
import type { KiroClient } from "./client.ts";
import { KiroWebSearch } from "./mcp.ts";
import { frameDecoder } from "./eventstream.ts";
import { kiroEvents } from "./events.ts";
import { MODEL_CACHE_TTL_MS, type ModelCatalog, type ResolvedModel } from "./models.ts";
import { buildReasoningFields } from "./native_reasoning.ts";
import { guardPayloadSize } from "./payload_guard.ts";
import { buildKiroRequest, isToolChoiceOffered, withTruncationNotices } from "./request.ts";
import { assertValidPayload, describeLikelyCause } from "./request_lint.ts";
import type { ToolNameMap } from "./tool_names.ts";

/** Logs, at debug level, each client intent that goes to Kiro as an instruction. */
function logIntents(chat: ChatRequest, logger: Logger): void {
  if (chat.responseFormat) {
    logger.debug("Structured output requested: sent to Kiro as a system prompt instruction", {
      format: chat.responseFormat.type,
      name: chat.responseFormat.type === "json_schema" ? chat.responseFormat.name : undefined,
    });
  }
  if (chat.toolChoice) {
    logger.debug(
      isToolChoiceOffered(chat)
        ? "Forced tool choice: sent to Kiro as a system prompt instruction"
        : "Forced tool choice names no tool of the request: not sent",
      { choice: chat.toolChoice.type === "tool" ? chat.toolChoice.name : chat.toolChoice.type },
    );
  }
}

/** What a KiroBackend is made of. */
export interface KiroBackendOptions {
  config: Readonly<Config>;
  client: KiroClient;
  models: ModelCatalog;
  counter: TokenCounter;
  truncation: TruncationStore;
  logger: Logger;
  /** The clock in epoch milliseconds (for the memory of rejected native fields). */
  now?: () => number;
}

/** How long a model that rejected the native reasoning fields is sent tags instead. */
export const NATIVE_REJECTION_TTL_MS = MODEL_CACHE_TTL_MS;

/** The ChatBackend that sends chats to the Kiro API. */
export class KiroBackend implements ChatBackend {
  #options: KiroBackendOptions;
  #now: () => number;
  /** Kiro model id → epoch ms until which it is sent no native reasoning fields. */
  #nativeRejected = new Map<string, number>();

  constructor(options: KiroBackendOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Sends `chat` to Kiro; see ChatBackend.send for the contract. */
  async send(
    chat: ChatRequest,
    signal: AbortSignal,
    context: SendContext = {},
  ): Promise<ReadableStream<ChatEvent>> {
    const { config, client, models, counter, truncation } = this.#options;
    const logger = context.logger ?? this.#options.logger;
    const capture = context.capture;
    // The first request waits for the catalogue, which says which models reason natively,
    // once the token is ready (so both share one refresh); later ones refresh it in the
    // background. load() never rejects.
    const firstLoad = models.loadedAt === undefined;
    if (!firstLoad) void models.load();
    let model = models.resolve(chat.model);
    // Notices are one-shot, so they are taken once here, not once per upstream attempt.
    const prepared = config.truncationRecovery ? withTruncationNotices(chat, truncation) : chat;
    logIntents(chat, logger);
    const conversationId = crypto.randomUUID();
    let toolNames: ToolNameMap | undefined;
    let lastPayload: unknown;
    let native: NativeChoice = { native: false };
    let forceTags = false;
    const sendOnce = () =>
      client.send({
        beforeFirstAttempt: firstLoad ? () => models.load() : undefined,
        buildBody: (access) => {
          model = models.resolve(chat.model);
          native = forceTags ? { native: false } : this.#nativeChoice(model, chat);
          const built = buildKiroRequest(prepared, {
            modelId: model.modelId,
            profileArn: access.profileArn,
            conversationId,
            config,
            nativeReasoning: native.native,
            reasoningFields: native.fields,
          });
          toolNames = built.toolNames;
          const guarded = guardPayloadSize(built.payload, {
            maxBytes: config.maxPayloadBytes,
            autoTrim: config.autoTrimPayload,
          });
          if (guarded.trimmed) {
            logger.info("Trimmed the oldest history to fit Kiro's limit", guarded.trimmed);
          }
          assertValidPayload(guarded.payload, { bytes: guarded.bytes });
          lastPayload = guarded.payload;
          capture?.recordKiroRequest(guarded.json);
          return guarded.json;
        },
        modelId: model.modelId,
        likelyCause: () =>
          lastPayload === undefined ? undefined : describeLikelyCause(lastPayload as never),
      }, signal);
    let body: ReadableStream<Uint8Array>;
    try {
      body = await sendOnce();
    } catch (err) {
      if (!native.fields || !isRejection(err)) throw err;
      logger.warn("Kiro rejected the native reasoning fields: retrying with thinking tags", {
        model: model.modelId,
        error: err.message,
      });
      forceTags = true;
      body = await sendOnce();
      // Signed reasoning in the history proves the model took the fields before: the 400 was
      // about that reasoning (an expired signature, say), so the model is not marked.
      if (prepared.messages.some((message) => message.reasoning !== undefined)) {
        logger.warn("Kiro took the request without native reasoning and signed history", {
          model: model.modelId,
        });
      } else {
        this.#nativeRejected.set(model.modelId, this.#now() + NATIVE_REJECTION_TTL_MS);
        logger.warn("Kiro took the request without native reasoning: using tags for this model", {
          model: model.modelId,
          forMinutes: NATIVE_REJECTION_TTL_MS / 60_000,
        });
      }
    }
    // The closures below live as long as the stream and share this scope with `lastPayload`:
    // drop the payload (the whole conversation as Kiro JSON) once it has been sent.
    lastPayload = undefined;
    const upstream = capture
      ? body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            capture.recordUpstreamChunk(chunk);
            controller.enqueue(chunk);
          },
        }),
      )
      : body;
    // The steps run fused in one stage: each stream hop costs microseconds per event. A
    // disabled split would pass everything through, so it is left out; without it the reply's
    // visible text is the text to remember, so the reply step remembers it itself.
    const split = config.fakeReasoning && chat.thinking.enabled && !native.native;
    const replies = chainTransformers(
      chainTransformers(frameDecoder(), kiroEvents({ logger })),
      replyEvents({
        counter,
        estimateInputTokens: () => estimateInputTokens(chat, counter),
        toolNames,
        declaredTools: new Set(chat.tools.map((tool) => tool.name)),
        truncation: config.truncationRecovery
          ? {
            rememberTool: (id, info) => truncation.rememberTool(id, info),
            rememberText: split ? () => {} : (text) => truncation.rememberText(text),
          }
          : undefined,
        logger,
      }),
    );
    const steps = split
      ? chainTransformers(
        replies,
        chainTransformers(
          thinkingSplit({
            enabled: true,
            handling: config.fakeReasoningHandling,
            initialBufferSize: config.fakeReasoningInitialBufferSize,
            countTokens: (text) => counter.countClaude(text),
          }),
          // Text is remembered after the split, so it matches what the client saw.
          truncatedText((text) => {
            if (config.truncationRecovery) truncation.rememberText(text);
          }),
        ),
      )
      : replies;
    // A structured-output answer loses the code fence models like to put around JSON.
    const unwrapped = chat.responseFormat
      ? chainTransformers(
        steps,
        jsonFence((report) =>
          logger.debug("Unwrapped the JSON answer from its code fence", { ...report })
        ),
      )
      : steps;
    return pipeToEvents(upstream, unwrapped, { onEvent: context.onEvent });
  }

  /** Whether `model` reasons natively for `chat`, and the fields to send, if any. */
  #nativeChoice(model: ResolvedModel, chat: ChatRequest): NativeChoice {
    if (!model.nativeReasoning) return { native: false };
    const rejectedUntil = this.#nativeRejected.get(model.modelId);
    if (rejectedUntil !== undefined) {
      if (rejectedUntil > this.#now()) return { native: false };
      this.#nativeRejected.delete(model.modelId);
    }
    return { native: true, fields: buildReasoningFields(model.nativeReasoning, chat.thinking) };
  }

  /** Searches the web through this account's client: its token, profile ARN and proxy. */
  searchWeb(query: string, signal: AbortSignal): Promise<WebSearchHit[]> {
    return new KiroWebSearch(this.#options.client, { now: this.#now }).search(query, signal);
  }

  /** Estimates the input tokens of `chat` with the shared local estimator. */
  countInputTokens(chat: ChatRequest): number {
    return estimateInputTokens(chat, this.#options.counter);
  }

  /** Lists the models of the catalogue. */
  listModels(): Promise<ModelInfo[]> {
    return this.#options.models.list();
  }
}

/** How one request asks for thinking: natively (with fields when thinking is on) or by tags. */
interface NativeChoice {
  native: boolean;
  fields?: Record<string, unknown>;
}

/** A 400 from Kiro itself: what a request with fields the model does not take gets. */
function isRejection(err: unknown): err is GatewayError {
  return err instanceof GatewayError && err.kind === "invalid_request" &&
    err.upstreamStatus === 400;
}
