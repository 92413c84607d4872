/**
 * Web search through Kiro's MCP endpoint (spec §1.5): a JSON-RPC `tools/call` of the
 * `web_search` tool whose result text is itself JSON, parsed a second time. The HTTP side
 * (headers, retries, token refresh, proxy, the 60 s timeout) is KiroClient.callMcp's.
 */
import { z } from "zod";
import type { WebSearchHit } from "../core/chat.ts";
import type { WebSearcher } from "../core/web_search.ts";
import { GatewayError, shortenForMessage } from "../errors.ts";

/** What a WebSearch needs: something that POSTs MCP bodies for the chosen account. */
export interface McpCaller {
  callMcp(body: string, signal: AbortSignal): Promise<string>;
}

/** Results kept from one search: Kiro sends about ten. */
const MAX_RESULTS = 20;

/** Snippets are cut to this many characters: the model reads every one of them. */
const MAX_SNIPPET_CHARS = 2000;

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const RpcAnswer = z.looseObject({
  result: z.looseObject({
    content: z.array(z.looseObject({ type: z.string().optional(), text: z.string().optional() })),
    isError: z.boolean().nullish(),
  }).nullish(),
  error: z.looseObject({ code: z.number().nullish(), message: z.string().nullish() }).nullish(),
});

const SearchPayload = z.looseObject({
  results: z.array(z.looseObject({
    title: z.string().nullish(),
    url: z.string(),
    snippet: z.string().nullish(),
    publishedDate: z.number().nullish(),
  })).nullish(),
  error: z.unknown().optional(),
});

/** The web search of one Kiro account, as core/web_search.ts uses it. */
export class KiroWebSearch implements WebSearcher {
  #caller: McpCaller;
  #now: () => number;

  constructor(caller: McpCaller, options: { now?: () => number } = {}) {
    this.#caller = caller;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Searches the web for `query`. Rejects with a GatewayError when Kiro fails (after the
   * client's retries) or answers with an error or a body it cannot read; never invents hits.
   */
  async search(query: string, signal: AbortSignal): Promise<WebSearchHit[]> {
    const body = JSON.stringify(buildMcpSearchBody(query, this.#now()));
    return parseMcpSearchAnswer(await this.#caller.callMcp(body, signal));
  }
}

/** The JSON-RPC body of one search; the id has the shape Kiro's own clients use. */
export function buildMcpSearchBody(query: string, now: number): Record<string, unknown> {
  return {
    id: `web_search_tooluse_${randomAlnum(22)}_${now}_${randomAlnum(8)}`,
    jsonrpc: "2.0",
    method: "tools/call",
    params: { name: "web_search", arguments: { query } },
  };
}

/**
 * Parses an MCP answer: `result.content[0].text` holds the search as JSON text. Throws an
 * `upstream` GatewayError for a JSON-RPC error, `isError`, or a search with a non-null
 * `error`, and an `upstream_protocol` one for anything unreadable.
 */
export function parseMcpSearchAnswer(text: string): WebSearchHit[] {
  const answer = RpcAnswer.safeParse(parseJson(text, "answer"));
  if (!answer.success) throw unreadable("answer", answer.error.issues[0]?.message);
  const { result, error } = answer.data;
  if (error) {
    throw new GatewayError(
      "upstream",
      `Kiro web search failed: ${error.message ?? "unknown error"}${
        error.code === null || error.code === undefined ? "" : ` (code ${error.code})`
      }`,
    );
  }
  const inner = result?.content.find((part) => typeof part.text === "string")?.text;
  if (result?.isError) {
    throw new GatewayError(
      "upstream",
      `Kiro web search failed: ${shortenForMessage(inner ?? "no detail")}`,
    );
  }
  if (inner === undefined) throw unreadable("answer", "no text content");
  const search = SearchPayload.safeParse(parseJson(inner, "result"));
  if (!search.success) throw unreadable("result", search.error.issues[0]?.message);
  if (search.data.error !== undefined && search.data.error !== null) {
    const detail = typeof search.data.error === "string"
      ? search.data.error
      : JSON.stringify(search.data.error);
    throw new GatewayError("upstream", `Kiro web search failed: ${shortenForMessage(detail)}`);
  }
  return (search.data.results ?? []).slice(0, MAX_RESULTS).map((hit) => {
    const out: WebSearchHit = {
      title: hit.title?.trim() || hit.url,
      url: hit.url,
      snippet: (hit.snippet ?? "").slice(0, MAX_SNIPPET_CHARS),
    };
    if (typeof hit.publishedDate === "number" && Number.isFinite(hit.publishedDate)) {
      out.publishedAt = hit.publishedDate;
    }
    return out;
  });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw unreadable(what, `not JSON: ${shortenForMessage(text)}`);
  }
}

function unreadable(what: string, detail = "unexpected shape"): GatewayError {
  return new GatewayError("upstream_protocol", `Cannot read Kiro web search ${what}: ${detail}`);
}

function randomAlnum(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += ALNUM[byte % ALNUM.length];
  return out;
}
