/**
 * The real Codex CLI (`codex exec`, pinned in versions.json) against the gateway process and
 * the fake Kiro through `/v1/responses`: a text turn, a thinking turn (reasoning summaries) and
 * a tool loop with its own apply_patch (a freeform custom tool) and exec_command tools.
 *
 * Codex's config (the README's Clients section, plus what a test needs): update checks and
 * analytics off, and the `plugins` features off, since Codex otherwise syncs its curated
 * plugin list from github.com and chatgpt.com at start-up; the rig's proxy trap proves that
 * nothing else leaves. Tools run with `--dangerously-bypass-approvals-and-sandbox`: the rig's
 * folder is thrown away, and Codex's own sandbox needs kernel features CI containers lack.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { answerWhen, thinkingAnswer, toolLoop } from "../kiro_script.ts";
import { saveAgentFixtures } from "./fixtures.ts";
import {
  AGENT_KEY,
  AGENT_VERSIONS,
  type AgentRig,
  assertToolResultsSent,
  jsonLines,
  requiredAgent,
  skipWithout,
  startAgentRig,
  THINKING_TURN,
  writeCodexConfig,
} from "./rig.ts";

const AGENT = { name: "codex", version: AGENT_VERSIONS["@openai/codex"]! };
const TIMEOUT_MS = 120_000;
const SKIP = skipWithout("codex");

/**
 * What Codex knows about the model: without an entry Codex uses fallback metadata, which
 * leaves out its apply_patch tool (and reports an error item on every turn).
 */
const MODEL_CATALOG = {
  models: [{
    slug: "claude-sonnet-4.5",
    display_name: "Claude Sonnet 4.5",
    base_instructions: "You are Codex, a coding agent. Work in the user's folder with your tools.",
    apply_patch_tool_type: "freeform",
    context_window: 200000,
    supported_reasoning_levels: ["low", "medium", "high"].map((effort) => ({
      effort,
      description: `${effort} reasoning`,
    })),
    shell_type: "shell_command",
    visibility: "list",
    supported_in_api: true,
    priority: 1,
    support_verbosity: true,
    truncation_policy: { mode: "tokens", limit: 10000 },
    experimental_supported_tools: [],
  }],
};

/** Writes the model catalog and `$CODEX_HOME/config.toml` naming it; returns CODEX_HOME. */
async function codexHome(rig: AgentRig): Promise<string> {
  const home = join(rig.home, ".codex");
  await Deno.mkdir(home, { recursive: true });
  const catalog = join(home, "kiro-models.json");
  await Deno.writeTextFile(catalog, JSON.stringify(MODEL_CATALOG));
  return await writeCodexConfig(rig, catalog);
}

/** Runs `codex exec --json prompt`; returns the completed items. */
async function codex(rig: AgentRig, prompt: string, extra: string[] = []) {
  const result = await rig.run(
    requiredAgent("codex"),
    ["exec", "--json", "--dangerously-bypass-approvals-and-sandbox", ...extra, prompt],
    {
      env: { CODEX_HOME: await codexHome(rig), KIRO_GATEWAY_KEY: AGENT_KEY },
      timeoutMs: TIMEOUT_MS,
    },
  );
  assert.equal(result.code, 0, `codex failed:\n${result.stdout}\n${result.stderr}`);
  const lines = jsonLines<{ type: string; item?: Record<string, unknown> }>(result.stdout);
  assert.ok(lines.some((line) => line.type === "turn.completed"), result.stdout);
  const items = lines.flatMap((line) => line.type === "item.completed" ? [line.item!] : []);
  const answer = items.findLast((item) => item.type === "agent_message")?.text;
  return { items, answer, stdout: result.stdout };
}

function turnExchanges(rig: AgentRig, marker: string) {
  return rig.exchanges.filter((e) =>
    e.url.startsWith("/v1/responses") && JSON.stringify(e.body).includes(marker)
  );
}

Deno.test({
  name: "Codex answers a text turn through the Responses route",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(answerWhen({ marker: "agents-text", answer: "Hello from the fake model" }));
    const { answer } = await codex(rig, "agents-text: say hello");
    assert.equal(answer, "Hello from the fake model");
    rig.assertClean();
  },
});

Deno.test({
  name: "Codex shows the model's reasoning from a thinking turn",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(thinkingAnswer(THINKING_TURN));
    const { items, answer } = await codex(rig, "agents-think: what is six times seven?", [
      "-c",
      'model_reasoning_effort="high"',
      "-c",
      'model_reasoning_summary="detailed"',
    ]);
    assert.equal(answer, "42");
    const reasoning = items.filter((item) => item.type === "reasoning").map((item) => item.text)
      .join("");
    assert.match(reasoning, /six times seven, which is 42/);
    const [sent] = turnExchanges(rig, "agents-think");
    assert.equal((sent?.body as { reasoning?: { effort?: string } }).reasoning?.effort, "high");
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { thinking: sent });
  },
});

Deno.test({
  name: "Codex runs its apply_patch and exec_command tools in a tool loop and answers",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const patch =
      "*** Begin Patch\n*** Add File: hello.txt\n+written by the agent\n*** End Patch\n";
    rig.kiro.respond(toolLoop({
      marker: "agents-tool",
      calls: [
        { name: "apply_patch", input: { input: patch } },
        { name: "exec_command", input: { cmd: "cat hello.txt && echo ran-in-$(basename $PWD)" } },
      ],
      answer: "The file is written and checked.",
    }));
    const { items, answer } = await codex(rig, "agents-tool: write hello.txt, then show it");
    assert.equal(answer, "The file is written and checked.");
    assert.equal(await Deno.readTextFile(join(rig.work, "hello.txt")), "written by the agent\n");
    assert.ok(items.some((item) => item.type === "file_change"), "Codex applied the patch");
    assertToolResultsSent(rig);
    rig.assertClean();
  },
});
