/**
 * The real Claude Code CLI (`claude -p`, pinned in versions.json) against the gateway process
 * and the fake Kiro: a text turn, a thinking turn and a tool loop with its own Write and Bash
 * tools. Outside traffic is off by CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (no telemetry,
 * error reports or update checks) and DISABLE_AUTOUPDATER; the rig's proxy trap proves it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { answerWhen, thinkingAnswer, toolLoop, viewPayload } from "../kiro_script.ts";
import { saveAgentFixtures } from "./fixtures.ts";
import {
  AGENT_VERSIONS,
  type AgentRig,
  assertToolResultsSent,
  claudeEnv,
  generateRequests,
  jsonLines,
  requiredAgent,
  skipWithout,
  startAgentRig,
  THINKING_TURN,
  writeAndShowLoop,
} from "./rig.ts";

const AGENT = { name: "claude-code", version: AGENT_VERSIONS["@anthropic-ai/claude-code"]! };
const TIMEOUT_MS = 120_000;
const SKIP = skipWithout("claude");

/** Runs `claude -p prompt` with stream-json output; returns the parsed output lines. */
async function claude(rig: AgentRig, prompt: string, extra: string[] = []) {
  const result = await rig.run(
    requiredAgent("claude"),
    ["-p", prompt, "--output-format", "stream-json", "--verbose", ...extra],
    { env: claudeEnv(rig), timeoutMs: TIMEOUT_MS },
  );
  assert.equal(result.code, 0, `claude failed:\n${result.stdout}\n${result.stderr}`);
  const lines = jsonLines(result.stdout);
  const final = lines.findLast((line) => line.type === "result");
  assert.ok(final, `no result line:\n${result.stdout}`);
  return { lines, final, stdout: result.stdout };
}

function contentBlocks(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((line) => line.type === "assistant").flatMap((line) =>
    (line.message as { content: Record<string, unknown>[] }).content
  );
}

function messagesExchange(rig: AgentRig, marker: string) {
  return rig.exchanges.find((e) =>
    e.url.startsWith("/v1/messages") && JSON.stringify(e.body).includes(marker)
  );
}

Deno.test({
  name: "Claude Code answers a text turn through the gateway",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(answerWhen({ marker: "agents-text", answer: "Hello from the fake model" }));
    const { final } = await claude(rig, "agents-text: say hello");
    assert.equal(final.subtype, "success");
    assert.equal(final.result, "Hello from the fake model");
    const sent = messagesExchange(rig, "agents-text");
    assert.ok(sent?.url.includes("beta=true"), "Claude Code uses ?beta=true");
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { text: sent });
  },
});

Deno.test({
  name: "Claude Code shows the model's thinking from a thinking turn",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(thinkingAnswer(THINKING_TURN));
    const { lines, final } = await claude(rig, "agents-think: what is six times seven?", [
      "--settings",
      JSON.stringify({ alwaysThinkingEnabled: true }),
    ]);
    assert.equal(final.result, "42");
    const thinking = contentBlocks(lines).find((block) => block.type === "thinking");
    assert.equal(thinking?.thinking, THINKING_TURN.thinking);
    const upstream = generateRequests(rig).map((r) => viewPayload(r.body)).find((view) =>
      view.current.includes("agents-think")
    );
    assert.match(upstream?.current ?? "", /<thinking_mode>enabled<\/thinking_mode>/);
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { thinking: messagesExchange(rig, "agents-think") });
  },
});

Deno.test({
  name: "Claude Code runs its Write and Bash tools in a tool loop and answers",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const file = join(rig.work, "hello.txt");
    rig.kiro.respond(
      writeAndShowLoop(file, { write: "Write", pathField: "file_path", bash: "Bash" }),
    );
    const { final } = await claude(rig, "agents-tool: write hello.txt, then show it", [
      "--allowedTools",
      "Write,Bash",
    ]);
    assert.equal(final.result, "The file is written and checked.");
    assert.equal(await Deno.readTextFile(file), "written by the agent\n");
    // The Bash result went back to the model through the gateway.
    assertToolResultsSent(rig);
    rig.assertClean();
    const loop = rig.exchanges.filter((e) =>
      e.url.startsWith("/v1/messages") && JSON.stringify(e.body).includes("agents-tool")
    );
    await saveAgentFixtures(AGENT, rig.root, {
      "tool-call": loop[0],
      "tool-result": loop.at(-1),
    });
  },
});

Deno.test({
  name: "Claude Code's --json-schema answer comes back through its StructuredOutput tool",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const schema = {
      type: "object",
      properties: { title: { type: "string" }, done: { type: "boolean" } },
      required: ["title", "done"],
    };
    rig.kiro.respond(toolLoop({
      marker: "agents-json",
      calls: [{ name: "StructuredOutput", input: { title: "Agent test", done: true } }],
      answer: "Done.",
    }));
    const result = await rig.run(
      requiredAgent("claude"),
      [
        "-p",
        "agents-json: name the task",
        "--json-schema",
        JSON.stringify(schema),
        "--output-format",
        "json",
      ],
      { env: claudeEnv(rig), timeoutMs: TIMEOUT_MS },
    );
    assert.equal(result.code, 0, `claude failed:\n${result.stdout}\n${result.stderr}`);
    const final = JSON.parse(result.stdout) as { subtype: string; structured_output?: unknown };
    assert.equal(final.subtype, "success", result.stdout);
    assert.deepEqual(final.structured_output, { title: "Agent test", done: true });
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, {
      "json-schema": messagesExchange(rig, "agents-json"),
    });
  },
});
