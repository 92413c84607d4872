/**
 * The real opencode CLI (`opencode run`, pinned in versions.json) against the gateway process
 * and the fake Kiro through `/v1/chat/completions` (an `@ai-sdk/openai-compatible` provider, as
 * the README's Clients section configures it): a text turn with opencode's own background
 * title request, a thinking turn and a tool loop with its own write and bash tools.
 *
 * Outside traffic is off by opencode's documented switches (OPENCODE_DISABLE_AUTOUPDATE,
 * _MODELS_FETCH, _LSP_DOWNLOAD, _DEFAULT_PLUGINS, _SHARE, `autoupdate: false`). One more is
 * needed: opencode installs its plugin SDK into each config folder in the background unless the
 * folder's lock file already lists it, so the test's fresh config folder is seeded with one.
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
  writeAndShowLoop,
} from "./rig.ts";

const VERSION = AGENT_VERSIONS["opencode-ai"]!;
const AGENT = { name: "opencode", version: VERSION };
const TIMEOUT_MS = 120_000;
const SKIP = skipWithout("opencode");

/** The AI SDK package of the provider: chat completions, or Anthropic messages. */
type ProviderPackage = "@ai-sdk/openai-compatible" | "@ai-sdk/anthropic";

function opencodeConfig(rig: AgentRig, npm: ProviderPackage): Record<string, unknown> {
  return {
    $schema: "https://opencode.ai/config.json",
    provider: {
      kiro: {
        npm,
        name: "Kiro Gateway",
        options: { baseURL: `${rig.url}/v1`, apiKey: "{env:KIRO_GATEWAY_KEY}" },
        models: {
          "claude-sonnet-4.5": {
            name: "Claude Sonnet 4.5",
            reasoning: true,
            variants: { high: { reasoningEffort: "high" } },
          },
          "claude-haiku-4.5": { name: "Claude Haiku 4.5" },
        },
      },
    },
    model: "kiro/claude-sonnet-4.5",
    small_model: "kiro/claude-haiku-4.5",
    autoupdate: false,
    share: "disabled",
    permission: { edit: "allow", bash: "allow" },
  };
}

async function opencode(
  rig: AgentRig,
  prompt: string,
  extra: string[] = [],
  npm: ProviderPackage = "@ai-sdk/openai-compatible",
) {
  const configDir = join(rig.home, ".config", "opencode");
  await Deno.mkdir(join(configDir, "node_modules"), { recursive: true });
  const lock = { packages: { "": { dependencies: { "@opencode-ai/plugin": VERSION } } } };
  await Deno.writeTextFile(join(configDir, "package-lock.json"), JSON.stringify(lock));
  const result = await rig.run(
    requiredAgent("opencode"),
    ["run", "--format", "json", ...extra, prompt],
    {
      env: {
        KIRO_GATEWAY_KEY: AGENT_KEY,
        OPENCODE_CONFIG_CONTENT: JSON.stringify(opencodeConfig(rig, npm)),
        OPENCODE_DISABLE_AUTOUPDATE: "1",
        OPENCODE_DISABLE_MODELS_FETCH: "1",
        OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
        OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
        OPENCODE_DISABLE_SHARE: "1",
      },
      timeoutMs: TIMEOUT_MS,
    },
  );
  assert.equal(result.code, 0, `opencode failed:\n${result.stdout}\n${result.stderr}`);
  const events = jsonLines<{ type: string; part?: Record<string, unknown> }>(result.stdout);
  const text = events.filter((event) => event.type === "text")
    .map((event) => String(event.part?.text ?? "")).join("");
  return { events, text, stdout: result.stdout };
}

function chatExchanges(rig: AgentRig) {
  return rig.exchanges.filter((e) => e.url.startsWith("/v1/chat/completions"));
}

/** The requests of the conversation itself, without opencode's title requests. */
function conversation(rig: AgentRig, marker: string) {
  return chatExchanges(rig).filter((e) => {
    const body = JSON.stringify(e.body);
    return body.includes(marker) && !body.includes("title generator");
  });
}

Deno.test({
  name: "opencode answers a text turn and gets its background title request answered",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(answerWhen({ marker: "agents-text", answer: "Hello from the fake model" }));
    const { text } = await opencode(rig, "agents-text: say hello");
    assert.equal(text, "Hello from the fake model");
    const chats = chatExchanges(rig);
    const title = chats.find((e) => JSON.stringify(e.body).includes("title generator"));
    assert.ok(title, "opencode sent its title request on its own");
    assert.equal((title.body as { model: string }).model, "claude-haiku-4.5");
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { text: conversation(rig, "agents-text")[0], title });
  },
});

Deno.test({
  name: "opencode shows the model's thinking from a thinking turn",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    rig.kiro.respond(thinkingAnswer(THINKING_TURN));
    const { events, text } = await opencode(rig, "agents-think: what is six times seven?", [
      "--variant",
      "high",
      "--thinking",
    ]);
    assert.equal(text, "42");
    const reasoning = events.filter((event) => event.type === "reasoning")
      .map((event) => String(event.part?.text ?? "")).join("");
    assert.equal(reasoning, THINKING_TURN.thinking);
    const [sent] = conversation(rig, "agents-think");
    assert.equal((sent?.body as { reasoning_effort?: string }).reasoning_effort, "high");
    rig.assertClean();
    await saveAgentFixtures(AGENT, rig.root, { thinking: sent });
  },
});

Deno.test({
  name: "opencode runs its write and bash tools in a tool loop and answers",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const file = join(rig.work, "hello.txt");
    rig.kiro.respond(
      writeAndShowLoop(file, { write: "write", pathField: "filePath", bash: "bash" }),
    );
    const { text } = await opencode(rig, "agents-tool: write hello.txt, then show it");
    assert.equal(text, "The file is written and checked.");
    assert.equal(await Deno.readTextFile(file), "written by the agent\n");
    assertToolResultsSent(rig);
    rig.assertClean();
    const loop = conversation(rig, "agents-tool");
    await saveAgentFixtures(AGENT, rig.root, { "tool-call": loop[0], "tool-result": loop.at(-1) });
  },
});

Deno.test({
  name: "opencode's Anthropic provider runs the same tool loop through /v1/messages",
  ignore: SKIP,
  async fn() {
    await using rig = await startAgentRig();
    const file = join(rig.work, "hello.txt");
    rig.kiro.respond(toolLoop({
      marker: "agents-tool",
      calls: [
        { name: "write", input: { filePath: file, content: "written by the agent\n" } },
        { name: "bash", input: { command: "echo ran-in-$(basename $PWD)", description: "Where" } },
      ],
      answer: "The file is written and checked.",
    }));
    const { text } = await opencode(
      rig,
      "agents-tool: write hello.txt, then show it",
      [],
      "@ai-sdk/anthropic",
    );
    assert.equal(text, "The file is written and checked.");
    assert.equal(await Deno.readTextFile(file), "written by the agent\n");
    const messages = rig.exchanges.filter((e) => e.url.startsWith("/v1/messages"));
    assert.ok(messages.length >= 3, "the loop and the title went to /v1/messages");
    assert.equal(chatExchanges(rig).length, 0);
    assert.ok(
      rig.kiro.requests.some((r) => JSON.stringify(r.body).includes("ran-in-work")),
      "the bash output went back to the model",
    );
    rig.assertClean();
    const loop = messages.filter((e) => {
      const body = JSON.stringify(e.body);
      return body.includes("agents-tool") && !body.includes("title generator");
    });
    await saveAgentFixtures(AGENT, rig.root, { "anthropic-tool-result": loop.at(-1) });
  },
});
