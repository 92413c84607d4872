/**
 * KiroBackend: the ChatBackend that talks to Kiro. It resolves the model, builds and checks the
 * payload, sends it, and pipes the body through the decoding stages:
 * bytes → frames → Kiro events → chat events → thinking split.
 */
import type { Config } from "../config.ts";
import type { ChatBackend, ModelInfo, SendContext } from "../core/backend.ts";
import type { ChatEvent, ChatRequest } from "../core/chat.ts";
import { estimateInputTokens } from "../core/estimate.ts";
import { ReplyEventStream } from "../core/reply.ts";
import { catchStreamErrors } from "../core/streams.ts";
import { ThinkingSplitStream } from "../core/thinking.ts";
import { TruncatedTextStream } from "../core/truncated_text.ts";
import type { TokenCounter } from "../core/tokens.ts";
import type { TruncationStore } from "../core/truncation.ts";
import type { Logger } from "../log.ts";
import type { KiroClient } from "./client.ts";
import { FrameDecoderStream } from "./eventstream.ts";
import { KiroEventStream } from "./events.ts";
import type { ModelCatalog } from "./models.ts";
import { guardPayloadSize } from "./payload_guard.ts";
import { buildKiroRequest, withTruncationNotices } from "./request.ts";
import { assertValidPayload, describeLikelyCause } from "./request_lint.ts";
import type { ToolNameMap } from "./tool_names.ts";

/** What a KiroBackend is made of. */
export interface KiroBackendOptions {
  config: Readonly<Config>;
  client: KiroClient;
  models: ModelCatalog;
  counter: TokenCounter;
  truncation: TruncationStore;
  logger: Logger;
}

/** The ChatBackend that sends chats to the Kiro API. */
export class KiroBackend implements ChatBackend {
  #options: KiroBackendOptions;

  constructor(options: KiroBackendOptions) {
    this.#options = options;
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
    void models.load(); // refreshes the live list in the background; never rejects
    const model = models.resolve(chat.model);
    // Notices are one-shot, so they are taken once here, not once per upstream attempt.
    const prepared = config.truncationRecovery ? withTruncationNotices(chat, truncation) : chat;
    const estimatedInputTokens = estimateInputTokens(chat, counter);
    const conversationId = crypto.randomUUID();
    let toolNames: ToolNameMap | undefined;
    let lastPayload: unknown;
    const body = await client.send({
      buildBody: (access) => {
        const built = buildKiroRequest(prepared, {
          modelId: model.modelId,
          profileArn: access.profileArn,
          conversationId,
          config,
        });
        toolNames = built.toolNames;
        const guarded = guardPayloadSize(built.payload, {
          maxBytes: config.maxPayloadBytes,
          autoTrim: config.autoTrimPayload,
        });
        if (guarded.trimmed) {
          logger.info("Trimmed the oldest history to fit Kiro's limit", guarded.trimmed);
        }
        assertValidPayload(guarded.payload);
        lastPayload = guarded.payload;
        const json = JSON.stringify(guarded.payload);
        capture?.recordKiroRequest(json);
        return json;
      },
      modelId: model.modelId,
      likelyCause: () =>
        lastPayload === undefined ? undefined : describeLikelyCause(lastPayload as never),
    }, signal);
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
    // A disabled split would pass everything through, so it is left out of the pipe (every
    // stage costs microseconds per event); without it the reply's visible text is the text to
    // remember, so ReplyEventStream remembers it and TruncatedTextStream is left out too.
    const split = config.fakeReasoning && chat.thinking.enabled;
    const replyEvents = upstream
      .pipeThrough(new FrameDecoderStream())
      .pipeThrough(new KiroEventStream({ logger }))
      .pipeThrough(
        new ReplyEventStream({
          contextWindow: model.contextWindow,
          counter,
          estimatedInputTokens,
          toolNames,
          truncation: config.truncationRecovery
            ? {
              rememberTool: (id, info) => truncation.rememberTool(id, info),
              rememberText: split ? () => {} : (text) => truncation.rememberText(text),
            }
            : undefined,
          logger,
        }),
      );
    if (!split) return catchStreamErrors(replyEvents);
    const events = replyEvents.pipeThrough(
      new ThinkingSplitStream({
        enabled: true,
        handling: config.fakeReasoningHandling,
        initialBufferSize: config.fakeReasoningInitialBufferSize,
      }),
    );
    // Text is remembered after the thinking split, so it matches what the client saw.
    const remembered = config.truncationRecovery
      ? events.pipeThrough(new TruncatedTextStream((text) => truncation.rememberText(text)))
      : events;
    return catchStreamErrors(remembered);
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
