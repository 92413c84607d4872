/**
 * The real Claude Code CLI runs its WebSearch tool through the gateway: the main model (the
 * fake Kiro, scripted) calls WebSearch, Claude Code sends its search sub-request (one
 * `web_search_20250305` server tool), the gateway answers it from the fake Kiro MCP endpoint
 * without a model call, and the results reach the main model as the tool's result.
 */
import assert from "node:assert/strict";
import { fakeSearchResults, MCP_PATH } from "../fake_kiro.ts";
import { toolLoop } from "../kiro_script.ts";
import { saveAgentFixtures } from "./fixtures.ts";
import {
  AGENT_VERSIONS,
  agentBinary,
  claudeEnv,
  generateRequests,
  jsonLines,
  skipWithout,
  startAgentRig,
} from "./rig.ts";

const AGENT = { name: "claude-code", version: AGENT_VERSIONS["@anthropic-ai/claude-code"]! };
const SKIP = skipWithout("claude");
const QUERY = "agents-search deno 2 release notes";

Deno.test({
  name: "Claude Code's WebSearch tool is served from Kiro's MCP endpoint",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(toolLoop({
      marker: "agents-search",
      calls: [{ name: "WebSearch", input: { query: QUERY } }],
      answer: "Deno 2 is out.",
    }));
    const result = await rig.run(
      agentBinary("claude")!,
      [
        "-p",
        "agents-search: search the web for the Deno 2 release notes",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "WebSearch",
      ],
      {
        env: { ...claudeEnv(rig), ENABLE_TOOL_SEARCH: "false" },
        timeoutMs: 120_000,
      },
    );
    assert.equal(result.code, 0, `claude failed:\n${result.stdout}\n${result.stderr}`);
    const final = jsonLines(result.stdout).findLast((line) => line.type === "result");
    assert.equal(final?.result, "Deno 2 is out.", result.stdout);
    const search = rig.exchanges.find((e) =>
      e.url.startsWith("/v1/messages") &&
      (e.body as { tools?: Array<{ type?: string }> }).tools?.some((tool) =>
        tool.type?.startsWith("web_search")
      )
    );
    assert.ok(search, "Claude Code sent a search sub-request");
    assert.equal(search.status, 200, search.error);
    const mcp = rig.kiro.requestsTo(MCP_PATH);
    assert.equal(mcp.length, 1);
    assert.deepEqual(
      (mcp[0]!.body as { params: { arguments: unknown } }).params.arguments,
      { query: QUERY },
    );
    // The search's results went back to the main model as WebSearch's result.
    const last = JSON.stringify(generateRequests(rig).at(-1));
    assert.ok(last.includes(fakeSearchResults(QUERY)[0]!.url), last.slice(0, 2000));
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { websearch: search });
  },
});
