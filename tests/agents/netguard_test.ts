/**
 * The network guard the agent rig preloads (netguard.cjs): under Node and under Bun it refuses
 * lookups and connections beyond loopback before a socket is opened (192.0.2.1 is TEST-NET-1,
 * never routed), writes each attempt to its log, and lets loopback through. The agents' own
 * runtimes are checked to load it: Claude Code's Bun binary through BUN_OPTIONS, Codex's Node
 * launcher through NODE_OPTIONS.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { agentBinary, netguardAttempts, netguardEnv } from "./rig.ts";

const PROBE = `
const report = (what) => (e) => console.log(what, e?.netguard === true || e?.cause?.netguard === true);
fetch("http://192.0.2.1/").then(() => console.log("fetch reached"), report("fetch"));
require("node:http").get("http://192.0.2.1/").on("error", report("http"));
require("node:net").connect(443, "192.0.2.1").on("error", report("net"));
require("node:dns").lookup("example.com", (e) => report("dns")(e));
require("node:dns").promises.lookup("example.com").catch(report("dnsPromises"));
fetch(process.env.LOOPBACK_URL).then((r) => r.text()).then((t) => console.log("loopback", t));
`;

/** Runs `binary args` with only the guard's environment; returns stdout and the log's lines. */
async function probe(
  binary: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; attempts: string[]; loaded: string }> {
  await using tmp = await tempDir();
  const log = join(resolve(tmp.path), "netguard.log");
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const output = await new Deno.Command(binary, {
    args,
    clearEnv: true,
    env: {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: resolve(tmp.path),
      LOOPBACK_URL: `http://127.0.0.1:${server.addr.port}/`,
      ...netguardEnv(log),
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, `${stdout}\n${new TextDecoder().decode(output.stderr)}`);
  let loaded = "";
  try {
    loaded = await Deno.readTextFile(`${log}.loaded`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return { stdout, attempts: netguardAttempts(log), loaded };
}

function sortedLines(text: string): string[] {
  return text.trim().split("\n").sort();
}

Deno.test("netguard under Node refuses TEST-NET and outside names at dns/net level and records them", async () => {
  const { stdout, attempts, loaded } = await probe("node", ["-e", PROBE]);
  assert.deepEqual(sortedLines(stdout), [
    "dns true",
    "dnsPromises true",
    "fetch true",
    "http true",
    "loopback ok",
    "net true",
  ]);
  assert.deepEqual(attempts.map((a) => a.split(" (")[0]).sort(), [
    "dns.lookup example.com",
    "dns.promises.lookup example.com",
    "net.connect 192.0.2.1:443",
    "net.connect 192.0.2.1:80",
    "net.connect 192.0.2.1:80",
  ]);
  assert.match(loaded, /"runtime":"node"/);
});

const bun = agentBinary("opencode");
Deno.test({
  name: "netguard under Bun (opencode's runtime) refuses fetch, http, net and dns beyond loopback",
  ignore: bun === undefined,
  async fn() {
    const { stdout, attempts, loaded } = await probe(bun!, ["-e", PROBE], { BUN_BE_BUN: "1" });
    assert.deepEqual(sortedLines(stdout), [
      "dns true",
      "dnsPromises true",
      "fetch true",
      "http true",
      "loopback ok",
      "net true",
    ]);
    assert.deepEqual(attempts.map((a) => a.split(" (")[0]).sort(), [
      "dns.lookup example.com",
      "dns.promises.lookup example.com",
      "fetch 192.0.2.1",
      "http.get 192.0.2.1",
      "net.connect 192.0.2.1:443",
    ]);
    assert.match(loaded, /"runtime":"bun"/);
  },
});

const claude = agentBinary("claude");
Deno.test({
  name: "netguard is loaded into Claude Code's Bun binary through BUN_OPTIONS",
  ignore: claude === undefined,
  async fn() {
    const { stdout, attempts, loaded } = await probe(claude!, ["--version"]);
    assert.match(stdout, /Claude Code/);
    assert.deepEqual(attempts, []);
    assert.match(loaded, /"runtime":"bun"/);
  },
});

const codex = agentBinary("codex");
Deno.test({
  name: "netguard is loaded into Codex's Node launcher through NODE_OPTIONS",
  ignore: codex === undefined,
  async fn() {
    const { stdout, loaded } = await probe(codex!, ["--version"]);
    assert.match(stdout, /codex/);
    assert.match(loaded, /"runtime":"node"/);
  },
});
