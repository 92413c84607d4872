/**
 * Web search for the model (spec §7.8), as a ChatBackend around the one that calls Kiro.
 *
 * A `direct` request (Claude Code's WebSearch sub-request) is answered with the search alone.
 * A `loop` request offers the model a `web_search` tool; when the model calls it, the gateway
 * searches, appends the call and its result to a working copy of the conversation and asks
 * again, until the model answers, calls a client tool (passed on untouched) or has had
 * MAX_SEARCH_ROUNDS rounds of searches. Each round streams through as it comes; each search
 * shows up as a `web_search_call` and a `web_search_result` event for the dialects to render.
 * Failed searches are reported as failures, to the client and to the model, never invented.
 */
import type { WebSearchMode } from "../config.ts";
import { GatewayError, toGatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ChatBackend, ModelInfo, SendContext } from "./backend.ts";
import {
  type ChatEvent,
  type ChatMessage,
  type ChatRequest,
  emptyMessage,
  type ToolDefinition,
  type Usage,
  type WebSearchHit,
  type WebSearchSettings,
} from "./chat.ts";

/** Runs one web search: Kiro's MCP endpoint in production, a fake in tests. */
export interface WebSearcher {
  /** Resolves with the hits; rejects with a GatewayError when the search failed. */
  search(query: string, signal: AbortSignal): Promise<WebSearchHit[]>;
}

/** The name of the tool the model is offered, and of the Anthropic server tool. */
export const WEB_SEARCH_TOOL_NAME = "web_search";

/** Rounds in which the model's searches run; one more model call may follow the last. */
export const MAX_SEARCH_ROUNDS = 5;

/** The tool the model sees in the loop. */
export const WEB_SEARCH_TOOL: ToolDefinition = {
  name: WEB_SEARCH_TOOL_NAME,
  description:
    "Search the web for current information. Returns the title, URL and a snippet of each matching page. Use it when the answer depends on recent events or on facts you are not sure of, then answer from the results and name the URLs you used.",
  inputSchema: {
    type: "object",
    properties: { query: { type: "string", description: "The search query" } },
    required: ["query"],
  },
};

/** Claude Code writes its WebSearch sub-request's query after this prefix. */
const DIRECT_QUERY_PREFIX = /^\s*perform a web search for the query:\s*/i;

/** Options of a WebSearchBackend. */
export interface WebSearchBackendOptions {
  /** WEB_SEARCH. */
  mode: WebSearchMode;
  /** Runs the searches; by default the inner backend's searchWeb (the account's own client). */
  searcher?: WebSearcher;
  logger: Logger;
  /** Returns `bytes` random bytes as hex (the `srvtoolu_` ids). */
  randomHex: (bytes: number) => string;
  /** Counts the tokens of a text (the direct answer's output tokens). */
  countTokens: (text: string) => number;
}

/** A ChatBackend that runs the web searches a request asks for around `inner`. */
export class WebSearchBackend implements ChatBackend {
  #inner: ChatBackend;
  #options: WebSearchBackendOptions;

  constructor(inner: ChatBackend, options: WebSearchBackendOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /**
   * Sends `chat`, searching as it asks (see the module comment). Throws an `invalid_request`
   * GatewayError naming WEB_SEARCH when the client asked for a search and it is off; rejects
   * like the inner backend until the first round has answered; after that, failures arrive
   * as one `error` event. Cancelling the stream or aborting `signal` aborts the round or the
   * search under way.
   */
  async send(
    chat: ChatRequest,
    signal: AbortSignal,
    context: SendContext = {},
  ): Promise<ReadableStream<ChatEvent>> {
    const settings = this.#settingsFor(chat);
    if (!settings) {
      const plain = chat.webSearch ? { ...chat, webSearch: undefined } : chat;
      return await this.#inner.send(plain, signal, context);
    }
    const abort = new AbortController();
    const loopSignal = AbortSignal.any([signal, abort.signal]);
    // Rounds report their events here, not to the caller: the caller sees the merged reply.
    const innerContext: SendContext = { ...context, onEvent: undefined };
    const logger = context.logger ?? this.#options.logger;
    const holder: { reader?: ReadableStreamDefaultReader<ChatEvent> } = {};
    let events: AsyncGenerator<ChatEvent, void>;
    if (settings.mode === "direct") {
      const query = directQuery(chat);
      events = this.#direct(chat, query, { settings, signal: loopSignal, context });
    } else {
      const working: ChatRequest = {
        ...chat,
        webSearch: undefined,
        tools: [...chat.tools, WEB_SEARCH_TOOL],
      };
      const first = await this.#inner.send(working, loopSignal, innerContext);
      events = this.#loop(working, first, {
        settings,
        signal: loopSignal,
        holder,
        send: (next) => this.#inner.send(next, loopSignal, innerContext),
        logger,
        context,
      });
    }
    let done = false;
    return new ReadableStream<ChatEvent>({
      async pull(controller) {
        let result: IteratorResult<ChatEvent, void>;
        try {
          result = await events.next();
        } catch (err) {
          if (done) return;
          done = true;
          const event: ChatEvent = { type: "error", error: toGatewayError(err) };
          context.onEvent?.(event);
          controller.enqueue(event);
          controller.close();
          return;
        }
        if (done) return;
        if (result.done) {
          done = true;
          controller.close();
          return;
        }
        context.onEvent?.(result.value);
        controller.enqueue(result.value);
      },
      cancel(reason) {
        done = true;
        abort.abort(reason ?? new DOMException("The client went away", "AbortError"));
        const reader = holder.reader;
        holder.reader = undefined;
        void events.return(undefined).catch(() => {});
        return reader?.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 });
  }

  /** Estimates the input tokens of `chat` as the inner backend does. */
  countInputTokens(chat: ChatRequest): number {
    return this.#inner.countInputTokens(chat);
  }

  /** Lists the inner backend's models. */
  listModels(): Promise<ModelInfo[]> {
    return this.#inner.listModels();
  }

  /** The search to run for `chat` under WEB_SEARCH, or undefined for a plain chat. */
  #settingsFor(chat: ChatRequest): WebSearchSettings | undefined {
    const { mode, logger } = this.#options;
    const asked = chat.webSearch;
    if (mode === "off") {
      if (!asked || asked.implicit) return undefined;
      throw new GatewayError(
        "invalid_request",
        "Web search is turned off on this gateway (WEB_SEARCH=off): remove the web search tool, or ask the operator to set WEB_SEARCH=on",
      );
    }
    const clash = chat.tools.some((tool) => tool.name === WEB_SEARCH_TOOL_NAME);
    if (asked?.mode === "direct") return asked;
    if (clash) {
      if (asked) {
        logger.warn("Not offering web search: the client has its own tool of that name", {
          tool: WEB_SEARCH_TOOL_NAME,
        });
      }
      return undefined;
    }
    if (asked) return asked;
    return mode === "auto" ? { mode: "loop", implicit: true } : undefined;
  }

  /** The answer to a direct request: the search, its results and a text summary. */
  async *#direct(
    chat: ChatRequest,
    query: string,
    run: { settings: WebSearchSettings; signal: AbortSignal; context: SendContext },
  ): AsyncGenerator<ChatEvent, void> {
    const id = `srvtoolu_${this.#options.randomHex(16)}`;
    yield { type: "web_search_call", id, query };
    const outcome = await this.#search(query, run.settings, run.signal, run.context);
    yield { type: "web_search_result", id, ...outcome };
    const summary = outcome.error
      ? `The web search for "${query}" failed: ${outcome.error.message}`
      : describeHits(query, outcome.results);
    yield { type: "text", text: summary };
    yield {
      type: "end",
      stopReason: "end_turn",
      usage: {
        inputTokens: this.#inner.countInputTokens(chat),
        outputTokens: this.#options.countTokens(summary),
        webSearchRequests: 1,
      },
    };
  }

  /** The rounds of a loop request, starting with the already answered `first`. */
  async *#loop(
    chat: ChatRequest,
    first: ReadableStream<ChatEvent>,
    loop: {
      settings: WebSearchSettings;
      signal: AbortSignal;
      holder: { reader?: ReadableStreamDefaultReader<ChatEvent> };
      send: (chat: ChatRequest) => Promise<ReadableStream<ChatEvent>>;
      logger: Logger;
      context: SendContext;
    },
  ): AsyncGenerator<ChatEvent, void> {
    const { settings, signal, holder, logger } = loop;
    const maxUses = settings.maxUses ?? Number.POSITIVE_INFINITY;
    let working = chat;
    let events = first;
    let searches = 0;
    let total: Usage | undefined;
    for (let round = 1;; round++) {
      const reader = events.getReader();
      holder.reader = reader;
      const calls: Array<{ id: string; query: string }> = [];
      const texts: string[] = [];
      let clientCalls = 0;
      let end: Extract<ChatEvent, { type: "end" }> | undefined;
      try {
        while (true) {
          const { done, value: event } = await reader.read();
          if (done) break;
          if (event.type === "tool_call" && event.name === WEB_SEARCH_TOOL_NAME) {
            calls.push({ id: event.id, query: queryOf(event.arguments) });
            continue;
          }
          if (event.type === "end") {
            end = event;
            continue;
          }
          if (event.type === "tool_call") clientCalls++;
          if (event.type === "text") texts.push(event.text);
          yield event;
          if (event.type === "error") return;
        }
      } finally {
        holder.reader = undefined;
        reader.releaseLock();
      }
      if (!end) throw new GatewayError("internal", "Cannot finish the reply: a round ended early");
      total = addUsage(total, end.usage);
      const last = round > MAX_SEARCH_ROUNDS;
      if (calls.length === 0 || last) {
        if (calls.length > 0) {
          logger.warn("Dropping web searches: the reply had its last round of searches", {
            rounds: MAX_SEARCH_ROUNDS,
          });
        }
        const stopReason = clientCalls > 0
          ? "tool_use"
          : end.stopReason === "tool_use"
          ? "end_turn"
          : end.stopReason;
        yield { type: "end", stopReason, usage: { ...total, webSearchRequests: searches } };
        return;
      }
      const asked: ChatMessage = { ...emptyMessage("assistant"), text: texts.join("") };
      const answered = emptyMessage("user");
      for (const call of calls) {
        const id = `srvtoolu_${this.#options.randomHex(16)}`;
        yield { type: "web_search_call", id, query: call.query };
        let outcome: SearchOutcome;
        if (searches >= maxUses) {
          outcome = {
            results: [],
            error: {
              code: "max_uses_exceeded",
              message: `the limit of ${maxUses} searches for this reply is reached`,
            },
          };
        } else {
          searches++;
          outcome = await this.#search(call.query, settings, signal, loop.context);
        }
        yield { type: "web_search_result", id, ...outcome };
        asked.toolCalls.push({
          id: call.id,
          name: WEB_SEARCH_TOOL_NAME,
          input: { query: call.query },
        });
        answered.toolResults.push({
          toolUseId: call.id,
          content: outcome.error
            ? describeFailure(call.query, outcome.error)
            : describeHits(call.query, outcome.results),
          isError: outcome.error !== undefined,
        });
      }
      if (clientCalls > 0) {
        yield {
          type: "end",
          stopReason: "tool_use",
          usage: { ...total, webSearchRequests: searches },
        };
        return;
      }
      working = { ...working, messages: [...working.messages, asked, answered] };
      events = await loop.send(working);
    }
  }

  /** The explicit searcher, else the inner backend's (which follows its account choice). */
  #searcher(context: SendContext): WebSearcher {
    if (this.#options.searcher) return this.#options.searcher;
    const inner = this.#inner;
    return {
      search(query, signal) {
        if (!inner.searchWeb) {
          return Promise.reject(
            new GatewayError("upstream", "Cannot search the web: the backend has no web search"),
          );
        }
        return inner.searchWeb(query, signal, context);
      },
    };
  }

  /** One search, its failure caught and described (an abort is not caught). */
  async #search(
    query: string,
    settings: WebSearchSettings,
    signal: AbortSignal,
    context: SendContext,
  ): Promise<SearchOutcome> {
    if (query === "") {
      return { results: [], error: { code: "unavailable", message: "the query was empty" } };
    }
    context.onWebSearch?.();
    try {
      const hits = await this.#searcher(context).search(query, signal);
      return { results: filterHits(hits, settings) };
    } catch (err) {
      if (signal.aborted) throw err;
      const error = toGatewayError(err);
      this.#options.logger.warn("Web search failed", { error: error.message });
      return { results: [], error: { code: "unavailable", message: error.message } };
    }
  }
}

type SearchOutcome = Omit<Extract<ChatEvent, { type: "web_search_result" }>, "type" | "id">;

/** The query of a direct request: the first user message, without Claude Code's prefix. */
function directQuery(chat: ChatRequest): string {
  const first = chat.messages.find((message) => message.role === "user");
  const query = (first?.text ?? "").replace(DIRECT_QUERY_PREFIX, "").trim();
  if (query === "") {
    throw new GatewayError(
      "invalid_request",
      "Cannot search the web: the first user message holds no query",
      { param: "messages" },
    );
  }
  return query;
}

function queryOf(args: string): string {
  try {
    const value = JSON.parse(args) as { query?: unknown };
    return typeof value.query === "string" ? value.query.trim() : "";
  } catch {
    return "";
  }
}

/** Keeps hits the allowed/blocked domain lists permit (a domain covers its subdomains). */
export function filterHits(hits: WebSearchHit[], settings: WebSearchSettings): WebSearchHit[] {
  const allowed = settings.allowedDomains?.filter((domain) => domain.trim() !== "") ?? [];
  const blocked = settings.blockedDomains?.filter((domain) => domain.trim() !== "") ?? [];
  if (allowed.length === 0 && blocked.length === 0) return hits;
  return hits.filter((hit) => {
    const host = hostOf(hit.url);
    if (host === undefined) return false;
    if (allowed.length > 0 && !allowed.some((domain) => inDomain(host, domain))) return false;
    return !blocked.some((domain) => inDomain(host, domain));
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function inDomain(host: string, domain: string): boolean {
  const bare = domain.trim().toLowerCase().replace(/^\*?\./, "").replace(/\/.*$/, "");
  return host === bare || host.endsWith(`.${bare}`);
}

/** The results as text, for the model's tool result and the direct answer. */
export function describeHits(query: string, hits: WebSearchHit[]): string {
  if (hits.length === 0) return `Web search results for "${query}": no results found.`;
  const lines = [`Web search results for "${query}":`, ""];
  hits.forEach((hit, index) => {
    const published = hit.publishedAt === undefined
      ? ""
      : ` (published ${new Date(hit.publishedAt).toISOString().slice(0, 10)})`;
    lines.push(`${index + 1}. ${hit.title}${published}`, `   ${hit.url}`);
    if (hit.snippet.trim() !== "") lines.push(`   ${hit.snippet.trim().replace(/\s+/g, " ")}`);
    lines.push("");
  });
  return lines.join("\n").trimEnd();
}

function describeFailure(
  query: string,
  error: NonNullable<SearchOutcome["error"]>,
): string {
  if (error.code === "max_uses_exceeded") {
    return `No search was run for "${query}": ${error.message}. Answer with the results you already have.`;
  }
  return `The web search for "${query}" failed: ${error.message}. No results are available: tell the user the search could not be done instead of guessing.`;
}

function addUsage(total: Usage | undefined, usage: Usage): Usage {
  if (!total) return { ...usage };
  const sum = (a?: number, b?: number) =>
    a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);
  const out: Usage = {
    inputTokens: total.inputTokens + usage.inputTokens,
    outputTokens: total.outputTokens + usage.outputTokens,
  };
  const credits = sum(total.credits, usage.credits);
  if (credits !== undefined) out.credits = credits;
  const cacheRead = sum(total.cacheReadInputTokens, usage.cacheReadInputTokens);
  if (cacheRead !== undefined) out.cacheReadInputTokens = cacheRead;
  const cacheCreation = sum(total.cacheCreationInputTokens, usage.cacheCreationInputTokens);
  if (cacheCreation !== undefined) out.cacheCreationInputTokens = cacheCreation;
  const reasoning = sum(total.reasoningTokens, usage.reasoningTokens);
  if (reasoning !== undefined) out.reasoningTokens = reasoning;
  return out;
}
