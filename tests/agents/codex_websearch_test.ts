/**
 * The real Codex CLI (`codex exec`, pinned in versions.json) through the gateway's Responses
 * route with a web search: Codex declares its `web_search` tool, the scripted model (the fake
 * Kiro) calls it, the gateway searches the fake Kiro MCP endpoint, streams the search as a
 * `web_search_call` item, and the model's answer ends Codex's turn.
 */
import assert from "node:assert/strict";
import { fakeSearchResults, MCP_PATH } from "../fake_kiro.ts";
import { toolLoop } from "../kiro_script.ts";
import {
  AGENT_KEY,
  agentBinary,
  generateRequests,
  jsonLines,
  skipWithout,
  startAgentRig,
  writeCodexConfig,
} from "./rig.ts";

const SKIP = skipWithout("codex");
const QUERY = "agents-codex-search deno 2 lts";

Deno.test({
  name: "Codex sees the gateway's web search as a web_search_call and gets the answer",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const codexHome = await writeCodexConfig(rig);
    rig.kiro.respond(toolLoop({
      marker: "agents-codex-search",
      calls: [{ name: "web_search", input: { query: QUERY } }],
      answer: "Deno 2 LTS it is.",
    }));
    const result = await rig.run(
      agentBinary("codex")!,
      ["exec", "--skip-git-repo-check", "--json", "agents-codex-search: which Deno is LTS?"],
      {
        env: { CODEX_HOME: codexHome, KIRO_GATEWAY_KEY: AGENT_KEY },
        timeoutMs: 120_000,
      },
    );
    assert.equal(result.code, 0, `codex failed:\n${result.stdout}\n${result.stderr}`);
    const lines = jsonLines(result.stdout);
    const items = lines.flatMap((line) =>
      line.type === "item.completed" ? [line.item as Record<string, unknown>] : []
    );
    const search = items.find((item) => item.type === "web_search");
    const sent = rig.exchanges.find((e) => e.url.startsWith("/v1/responses"));
    const tools = ((sent?.body as { tools?: Array<Record<string, unknown>> })?.tools ?? [])
      .map((tool) => `${tool.type}:${tool.name ?? JSON.stringify(tool)}`);
    assert.ok(search, `no web_search item:\n${result.stdout}\n${JSON.stringify(tools)}`);
    assert.equal(search.query, QUERY);
    const answer = items.findLast((item) => item.type === "agent_message");
    assert.equal(answer?.text, "Deno 2 LTS it is.", result.stdout);
    const mcp = rig.kiro.requestsTo(MCP_PATH);
    assert.equal(mcp.length, 1);
    const last = JSON.stringify(generateRequests(rig).at(-1));
    assert.ok(last.includes(fakeSearchResults(QUERY)[0]!.url), "the results reached the model");
    for (const exchange of rig.exchanges) {
      assert.ok(exchange.status < 300, `${exchange.url}: ${exchange.status} ${exchange.error}`);
    }
    // With its plugin features off (they sync from github.com and chatgpt.com), nothing
    // leaves the rig: the search went to the fake Kiro's MCP endpoint.
    assert.deepEqual(rig.outside, []);
  },
});
