/**
 * ChatEvents to Responses streaming events (spec §7.7): `response.created` and
 * `response.in_progress`, then per output item `output_item.added`, its part and delta events
 * and `output_item.done`, and last `response.completed` (or `response.failed`) holding the
 * full output and usage. Every event carries a strictly increasing `sequence_number`; during
 * silences `response.in_progress` is sent again so clients with an idle limit (Codex: 300 s)
 * keep waiting.
 */
import { type ChatEvent, replyEndedEarly, type StopReason, type Usage } from "../../core/chat.ts";
import { KeepAlive } from "../../core/keep_alive.ts";
import type { SseMessage } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { responsesStreamError } from "./errors.ts";
import {
  buildResponseObject,
  callItem,
  callItemPrefix,
  includesEncryptedReasoning,
  messageItem,
  type OutputItem,
  reasoningItem,
  type ResponseContext,
  statusOf,
  webSearchCallItem,
} from "./response.ts";
import { TextParts } from "../../core/text_parts.ts";

/** How often `response.in_progress` is repeated while no event arrives, by default. */
export const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 15_000;

/** What the stream needs beyond the response context. */
export interface ResponsesStreamContext extends ResponseContext {
  keepAliveIntervalMs?: number;
  /**
   * Called with the finished response before `response.completed` is sent (the store); its
   * rejection is reported to `onStoreError` and the stream goes on.
   */
  onCompleted?: (response: Record<string, unknown>, output: OutputItem[]) => Promise<void>;
  onStoreError?: (err: unknown) => void;
}

type Controller = TransformStreamDefaultController<SseMessage>;

interface OpenItem {
  kind: "reasoning" | "message";
  id: string;
  index: number;
  parts: TextParts;
  /** The start of each delta's JSON for this item, up to its `"delta":` (made once). */
  deltaHead: string;
}

/** Renders a reply's ChatEvents as Responses SSE messages (the logic of ResponsesEventStream). */
export function responsesEvents(ctx: ResponsesStreamContext): Transformer<ChatEvent, SseMessage> {
  const output: OutputItem[] = [];
  const singleCall = ctx.body.parallel_tool_calls === false;
  let sequence = 0;
  let open: OpenItem | undefined;
  const encrypted = includesEncryptedReasoning(ctx);
  let calls = 0;
  /** Web searches under way, by the event's id: their item id and output index. */
  const searches = new Map<string, { id: string; index: number; query: string }>();
  let finished = false;
  let keepAlive: KeepAlive | undefined;
  const stopTimer = () => keepAlive?.stop();

  const send = (controller: Controller, type: string, fields: Record<string, unknown>) => {
    controller.enqueue({
      event: type,
      data: JSON.stringify({ type, ...fields, sequence_number: sequence++ }),
    });
  };
  const snapshot = (status: "in_progress") => ({
    response: buildResponseObject(ctx, { status, output: [] }),
  });

  /** Closes the open item; `encryptedContent` goes on a reasoning item (its signature). */
  const closeOpen = (controller: Controller, encryptedContent?: string) => {
    if (!open) return;
    const { id, index, kind } = open;
    const text = open.parts.join();
    open = undefined;
    if (kind === "reasoning") {
      const part = { type: "summary_text", text };
      if (text !== "") {
        send(controller, "response.reasoning_summary_text.done", {
          item_id: id,
          output_index: index,
          summary_index: 0,
          text,
        });
        send(controller, "response.reasoning_summary_part.done", {
          item_id: id,
          output_index: index,
          summary_index: 0,
          part,
        });
      }
      const item = reasoningItem({
        id,
        text,
        encrypted: encrypted ? encryptedContent : undefined,
      });
      output.push(item);
      send(controller, "response.output_item.done", { output_index: index, item });
      return;
    }
    send(controller, "response.output_text.done", {
      item_id: id,
      output_index: index,
      content_index: 0,
      text,
      logprobs: [],
    });
    send(controller, "response.content_part.done", {
      item_id: id,
      output_index: index,
      content_index: 0,
      part: { type: "output_text", text, annotations: [], logprobs: [] },
    });
    const item = messageItem(id, text);
    output.push(item);
    send(controller, "response.output_item.done", { output_index: index, item });
  };

  const openItem = (
    controller: Controller,
    kind: OpenItem["kind"],
    withSummary = true,
  ): OpenItem => {
    if (open?.kind === kind) return open;
    closeOpen(controller);
    const index = output.length;
    const id = ctx.newId(kind === "reasoning" ? "rs_" : "msg_");
    if (kind === "reasoning") {
      send(controller, "response.output_item.added", {
        output_index: index,
        item: { id, type: "reasoning", summary: [] },
      });
      if (withSummary) {
        send(controller, "response.reasoning_summary_part.added", {
          item_id: id,
          output_index: index,
          summary_index: 0,
          part: { type: "summary_text", text: "" },
        });
      }
    } else {
      send(controller, "response.output_item.added", {
        output_index: index,
        item: { id, type: "message", status: "in_progress", role: "assistant", content: [] },
      });
      send(controller, "response.content_part.added", {
        item_id: id,
        output_index: index,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [], logprobs: [] },
      });
    }
    const deltaHead = kind === "reasoning"
      ? `{"type":"response.reasoning_summary_text.delta","item_id":"${id}","output_index":${index},"summary_index":0,"delta":`
      : `{"type":"response.output_text.delta","item_id":"${id}","output_index":${index},"content_index":0,"delta":`;
    open = { kind, id, index, parts: new TextParts(), deltaHead };
    return open;
  };

  const streamText = (controller: Controller, kind: OpenItem["kind"], text: string) => {
    if (text === "") return;
    const item = openItem(controller, kind);
    item.parts.push(text);
    // The hot path, one event per upstream delta, is serialized by hand.
    const tail = kind === "reasoning" ? "" : `,"logprobs":[]`;
    controller.enqueue({
      event: kind === "reasoning"
        ? "response.reasoning_summary_text.delta"
        : "response.output_text.delta",
      data: `${item.deltaHead}${JSON.stringify(text)}${tail},"sequence_number":${sequence++}}`,
    });
  };

  const streamCall = (
    controller: Controller,
    call: Extract<ChatEvent, { type: "tool_call" }>,
  ) => {
    if (singleCall && calls > 0) return;
    calls++;
    closeOpen(controller);
    const index = output.length;
    const item = callItem(ctx, { ...call, itemId: ctx.newId(callItemPrefix(ctx, call.name)) });
    const id = item.id;
    if (item.type === "function_call") {
      send(controller, "response.output_item.added", {
        output_index: index,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      send(controller, "response.function_call_arguments.delta", {
        item_id: id,
        output_index: index,
        delta: item.arguments,
      });
      send(controller, "response.function_call_arguments.done", {
        item_id: id,
        output_index: index,
        name: item.name,
        arguments: item.arguments,
      });
    } else if (item.type === "custom_tool_call") {
      send(controller, "response.output_item.added", {
        output_index: index,
        item: { ...item, status: "in_progress", input: "" },
      });
      send(controller, "response.custom_tool_call_input.delta", {
        item_id: id,
        output_index: index,
        delta: item.input,
      });
      send(controller, "response.custom_tool_call_input.done", {
        item_id: id,
        output_index: index,
        input: item.input,
      });
    } else {
      send(controller, "response.output_item.added", {
        output_index: index,
        item: { ...item, status: "in_progress" },
      });
    }
    output.push(item);
    send(controller, "response.output_item.done", { output_index: index, item });
  };

  const startSearch = (
    controller: Controller,
    event: Extract<ChatEvent, { type: "web_search_call" }>,
  ) => {
    closeOpen(controller);
    const index = output.length;
    const id = ctx.newId("ws_");
    searches.set(event.id, { id, index, query: event.query });
    send(controller, "response.output_item.added", {
      output_index: index,
      item: {
        id,
        type: "web_search_call",
        status: "in_progress",
        action: { type: "search", query: event.query },
      },
    });
    send(controller, "response.web_search_call.in_progress", { output_index: index, item_id: id });
    send(controller, "response.web_search_call.searching", { output_index: index, item_id: id });
  };

  const finishSearch = (
    controller: Controller,
    event: Extract<ChatEvent, { type: "web_search_result" }>,
  ) => {
    const search = searches.get(event.id);
    if (!search) return;
    searches.delete(event.id);
    const { id, index } = search;
    send(controller, "response.web_search_call.completed", { output_index: index, item_id: id });
    const item = webSearchCallItem(id, { ...search, results: event.results, error: event.error });
    output.push(item);
    send(controller, "response.output_item.done", { output_index: index, item });
  };

  const fail = (controller: Controller, err: GatewayError) => {
    finished = true;
    stopTimer();
    closeOpen(controller);
    const response = buildResponseObject(ctx, {
      output,
      status: "failed",
      error: responsesStreamError(err),
    });
    send(controller, "response.failed", { response });
  };

  const complete = async (controller: Controller, stopReason: StopReason, usage: Usage) => {
    finished = true;
    stopTimer();
    closeOpen(controller);
    const response = buildResponseObject(ctx, {
      output,
      status: statusOf(stopReason),
      usage,
    });
    if (ctx.onCompleted) {
      try {
        await ctx.onCompleted(response, output);
      } catch (err) {
        ctx.onStoreError?.(err);
      }
    }
    send(controller, "response.completed", { response });
  };

  return {
    start(controller) {
      send(controller, "response.created", snapshot("in_progress"));
      send(controller, "response.in_progress", snapshot("in_progress"));
      keepAlive = new KeepAlive(ctx.keepAliveIntervalMs ?? DEFAULT_KEEP_ALIVE_INTERVAL_MS, () => {
        if (!finished) send(controller, "response.in_progress", snapshot("in_progress"));
      });
    },
    transform(event, controller) {
      keepAlive?.touch();
      if (finished) return;
      switch (event.type) {
        case "reasoning":
          streamText(controller, "reasoning", event.text);
          return;
        case "text":
          streamText(controller, "message", event.text);
          return;
        case "tool_call":
          streamCall(controller, event);
          return;
        case "web_search_call":
          startSearch(controller, event);
          return;
        case "web_search_result":
          finishSearch(controller, event);
          return;
        case "reasoning_signature":
          // Kiro's signature ends its reasoning; with display "omitted" the text may be empty.
          if (open?.kind === "reasoning") closeOpen(controller, event.signature);
          else if (encrypted) {
            openItem(controller, "reasoning", false);
            closeOpen(controller, event.signature);
          }
          return;
        case "redacted_reasoning":
          if (!encrypted) return; // nothing a client could read or hand back
          closeOpen(controller);
          openItem(controller, "reasoning", false);
          closeOpen(controller, event.data);
          return;
        case "end":
          return complete(controller, event.stopReason, event.usage);
        case "error":
          fail(controller, event.error);
          return;
      }
    },
    flush(controller) {
      stopTimer();
      if (!finished) fail(controller, replyEndedEarly());
    },
    cancel() {
      stopTimer();
    },
  };
}

/**
 * Renders one reply's ChatEvents as Responses SSE messages. Ends with `response.completed`
 * after the `end` event or `response.failed` after an `error` event (or input that stops
 * without `end`); events after either are ignored. The keep-alive timer stops at the end or
 * when either side is cancelled.
 */
export class ResponsesEventStream extends TransformStream<ChatEvent, SseMessage> {
  constructor(ctx: ResponsesStreamContext) {
    super(responsesEvents(ctx));
  }
}
