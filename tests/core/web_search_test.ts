import assert from "node:assert/strict";
import type { ChatEvent, ChatRequest, WebSearchHit } from "../../src/core/chat.ts";
import {
  filterHits,
  MAX_SEARCH_ROUNDS,
  WebSearchBackend,
  type WebSearcher,
} from "../../src/core/web_search.ts";
import { GatewayError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { createFakeBackend } from "../fake_backend.ts";
import { collect } from "../helpers.ts";

const USAGE = { inputTokens: 10, outputTokens: 2, credits: 0.5 };

function searchRound(id: string, query: string): { events: ChatEvent[] } {
  return {
    events: [
      { type: "tool_call", id, name: "web_search", arguments: JSON.stringify({ query }) },
      { type: "end", stopReason: "tool_use", usage: USAGE },
    ],
  };
}

function answerRound(text: string): { events: ChatEvent[] } {
  return {
    events: [{ type: "text", text }, { type: "end", stopReason: "end_turn", usage: USAGE }],
  };
}

function chat(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: "claude-sonnet-4.5",
    system: "",
    messages: [{ role: "user", text: "Hi", images: [], toolCalls: [], toolResults: [] }],
    tools: [],
    thinking: { enabled: false, budgetTokens: 0 },
    stream: true,
    ...overrides,
  };
}

function setup(mode: "on" | "auto" | "off" = "on") {
  const inner = createFakeBackend();
  const queries: string[] = [];
  const searcher: WebSearcher = {
    search(query) {
      queries.push(query);
      return Promise.resolve([{ title: query, url: `https://example.com/${query}`, snippet: "" }]);
    },
  };
  let id = 0;
  const backend = new WebSearchBackend(inner, {
    mode,
    searcher,
    logger: silentLogger(),
    randomHex: () => String(++id),
    countTokens: (text) => text.length,
  });
  return { inner, backend, queries };
}

Deno.test("the loop stops after its last round of searches and drops further calls", async () => {
  const { inner, backend, queries } = setup();
  inner.script(
    ...Array.from({ length: MAX_SEARCH_ROUNDS + 1 }, (_, i) => searchRound(`t${i}`, `q${i}`)),
  );
  const events = await collect(
    await backend.send(chat({ webSearch: { mode: "loop" } }), new AbortController().signal),
  );
  assert.equal(inner.requests.length, MAX_SEARCH_ROUNDS + 1);
  assert.deepEqual(queries, ["q0", "q1", "q2", "q3", "q4"]);
  const end = events.at(-1);
  assert.deepEqual(end, {
    type: "end",
    stopReason: "end_turn",
    usage: { inputTokens: 60, outputTokens: 12, credits: 3, webSearchRequests: 5 },
  });
  assert.ok(!events.some((event) => event.type === "tool_call"));
});

Deno.test("max_uses: a search beyond it is refused, and the model is told so", async () => {
  const { inner, backend, queries } = setup();
  inner.script(searchRound("t1", "a"), searchRound("t2", "b"), answerRound("Done."));
  const events = await collect(
    await backend.send(
      chat({ webSearch: { mode: "loop", maxUses: 1 } }),
      new AbortController().signal,
    ),
  );
  assert.deepEqual(queries, ["a"]);
  const results = events.filter((event) => event.type === "web_search_result");
  assert.equal(
    results[1]?.type === "web_search_result" && results[1].error?.code,
    "max_uses_exceeded",
  );
  const told = inner.requests[2]!.messages.at(-1)!.toolResults[0]!;
  assert.equal(told.toolUseId, "t2");
  assert.equal(told.isError, true);
  assert.match(told.content, /limit of 1 searches/);
});

Deno.test("WEB_SEARCH=off refuses explicit searches and leaves implicit ones out", async () => {
  const { inner, backend } = setup("off");
  await assert.rejects(
    backend.send(chat({ webSearch: { mode: "loop" } }), new AbortController().signal),
    (err: unknown) =>
      err instanceof GatewayError && err.kind === "invalid_request" &&
      /WEB_SEARCH=off/.test(err.message),
  );
  const events = await collect(
    await backend.send(
      chat({ webSearch: { mode: "loop", implicit: true } }),
      new AbortController().signal,
    ),
  );
  assert.equal(events.at(-1)?.type, "end");
  assert.equal(inner.requests.length, 1);
  assert.equal(inner.requests[0]!.webSearch, undefined);
  assert.deepEqual(inner.requests[0]!.tools, []);
});

Deno.test("a client tool named web_search is left alone", async () => {
  const { inner, backend } = setup("auto");
  const own = { name: "web_search", description: "mine", inputSchema: { type: "object" } };
  inner.script(searchRound("t1", "q"));
  const events = await collect(
    await backend.send(chat({ tools: [own] }), new AbortController().signal),
  );
  assert.deepEqual(inner.requests[0]!.tools, [own]);
  assert.equal(events[0]?.type, "tool_call");
});

Deno.test("allowed and blocked domains filter results, subdomains included", () => {
  const hit = (url: string): WebSearchHit => ({ title: url, url, snippet: "" });
  const hits = [
    hit("https://deno.com/a"),
    hit("https://docs.deno.com/b"),
    hit("https://notdeno.com/c"),
    hit("https://example.org/d"),
    hit("not a url"),
  ];
  assert.deepEqual(
    filterHits(hits, { mode: "loop", allowedDomains: ["deno.com"] }).map((h) => h.url),
    ["https://deno.com/a", "https://docs.deno.com/b"],
  );
  assert.deepEqual(
    filterHits(hits, { mode: "loop", blockedDomains: ["deno.com"] }).map((h) => h.url),
    ["https://notdeno.com/c", "https://example.org/d"],
  );
  assert.equal(filterHits(hits, { mode: "loop" }), hits);
});
