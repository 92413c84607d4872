/**
 * Agent wire fixtures: requests the real agents sent, recorded once by the agent tests into
 * tests/fixtures/agents/<agent>-<what>.json and replayed by fixtures_test.ts through the
 * request builders, so a change that breaks an agent's request shape fails even where the
 * agents are not installed. `UPDATE_AGENT_FIXTURES=1 deno test --config deno.test.json -A tests/agents/`
 * records them again (review the diff).
 */
import { join } from "node:path";
import type { ClientExchange } from "./rig.ts";
import { REPO_ROOT } from "../ops/gateway_process.ts";

/** The folder of the agent fixtures. */
export const AGENT_FIXTURES_DIR = join(REPO_ROOT, "tests", "fixtures", "agents");

/** One recorded agent request. */
export interface AgentFixture {
  /** The agent and its version, such as `claude-code 2.1.332`. */
  agent: string;
  method: string;
  /** Path and query string, as the agent sent them. */
  url: string;
  /** The headers that say which dialect features the agent uses (no keys). */
  headers: Record<string, string>;
  body: unknown;
}

const KEPT_HEADERS = ["anthropic-beta", "anthropic-version", "user-agent", "originator", "accept"];

/** Where a rig's temporary folder is replaced in recorded bodies, so fixtures do not churn. */
export const FIXTURE_ROOT = "/tmp/agent-rig";

/**
 * Writes `exchanges` as fixtures named `<agent>-<what>.json` when UPDATE_AGENT_FIXTURES=1;
 * does nothing otherwise. `root` (the rig's folder) is replaced by FIXTURE_ROOT.
 */
export async function saveAgentFixtures(
  agent: { name: string; version: string },
  root: string,
  named: Record<string, ClientExchange | undefined>,
): Promise<void> {
  if (Deno.env.get("UPDATE_AGENT_FIXTURES") !== "1") return;
  await Deno.mkdir(AGENT_FIXTURES_DIR, { recursive: true });
  for (const [what, exchange] of Object.entries(named)) {
    if (!exchange) throw new Error(`No ${agent.name} request to record as "${what}"`);
    const fixture: AgentFixture = {
      agent: `${agent.name} ${agent.version}`,
      method: exchange.method,
      url: exchange.url,
      headers: Object.fromEntries(
        KEPT_HEADERS.flatMap((name) =>
          exchange.headers[name] === undefined ? [] : [[name, exchange.headers[name]!]]
        ),
      ),
      body: exchange.body,
    };
    const text = JSON.stringify(fixture, null, 2).replaceAll(root, FIXTURE_ROOT);
    await Deno.writeTextFile(join(AGENT_FIXTURES_DIR, `${agent.name}-${what}.json`), text + "\n");
  }
}

/** Reads every agent fixture, by file name. */
export async function readAgentFixtures(): Promise<Map<string, AgentFixture>> {
  const fixtures = new Map<string, AgentFixture>();
  for await (const entry of Deno.readDir(AGENT_FIXTURES_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const text = await Deno.readTextFile(join(AGENT_FIXTURES_DIR, entry.name));
    fixtures.set(entry.name, JSON.parse(text) as AgentFixture);
  }
  return fixtures;
}
