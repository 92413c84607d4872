/**
 * KiroBackend: the ChatBackend that talks to Kiro. It resolves the model, builds and checks the
 * payload, sends it, and pipes the body through the decoding steps, fused into one stage:
 * bytes → frames → Kiro events → chat events → thinking split → truncation memory.
 */
import type { Config } from "../config.ts";
import type { ChatBackend, ModelInfo, SendContext } from "../core/backend.ts";
import type { ChatEvent, ChatRequest } from "../core/chat.ts";
import { estimateInputTokens } from "../core/estimate.ts";
import { chainTransformers } from "../core/fuse.ts";
import { replyEvents } from "../core/reply.ts";
import { pipeToEvents } from "../core/streams.ts";
import { thinkingSplit } from "../core/thinking.ts";
import { truncatedText } from "../core/truncated_text.ts";
import type { TokenCounter } from "../core/tokens.ts";
import type { TruncationStore } from "../core/truncation.ts";
import type { Logger } from "../log.ts";
import type { KiroClient } from "./client.ts";
import { frameDecoder } from "./eventstream.ts";
import { kiroEvents } from "./events.ts";
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
        assertValidPayload(guarded.payload, { bytes: guarded.bytes });
        lastPayload = guarded.payload;
        capture?.recordKiroRequest(guarded.json);
        return guarded.json;
      },
      modelId: model.modelId,
      likelyCause: () =>
        lastPayload === undefined ? undefined : describeLikelyCause(lastPayload as never),
    }, signal);
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
    const split = config.fakeReasoning && chat.thinking.enabled;
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
    return pipeToEvents(upstream, steps, { onEvent: context.onEvent });
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
