import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { startFakeKiro } from "../fake_kiro.ts";
import { tempDir } from "../helpers.ts";
import { ALLOWED_ENV_VARS } from "../../src/permissions.ts";
import { readTasks, spawnGateway, splitWords, taskFlags } from "./gateway_process.ts";
import { GATEWAY_V8_FLAGS } from "../../bench/gateway_process.ts";

const API_KEY = "perm-test-key-0123456789";

const COMPILE_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** A working folder and a HOME holding a valid Kiro IDE token file. */
async function sandbox(root: string) {
  const base = resolve(root);
  const cwd = join(base, "work");
  const home = join(base, "home");
  const outside = join(base, "outside");
  await Deno.mkdir(join(home, ".aws", "sso", "cache"), { recursive: true });
  await Deno.mkdir(cwd, { recursive: true });
  await Deno.mkdir(outside, { recursive: true });
  const token = {
    accessToken: "aoaTESTACCESSTOKEN0123456789",
    refreshToken: "aorTESTREFRESHTOKEN0123456789",
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    profileArn: "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST",
    region: "us-east-1",
  };
  const text = JSON.stringify(token);
  await Deno.writeTextFile(join(home, ".aws", "sso", "cache", "kiro-auth-token.json"), text);
  await Deno.writeTextFile(join(outside, "x.json"), text);
  await Deno.writeTextFile(join(outside, "other.env"), `PROXY_API_KEY=${API_KEY}\n`);
  await Deno.writeTextFile(join(cwd, ".env"), `PROXY_API_KEY=${API_KEY}\n`);
  return { cwd, home, outside };
}

function upstreamEnv(url: string): Record<string, string> {
  return {
    KIRO_API_URL: url,
    KIRO_MANAGEMENT_URL: url,
    KIRO_AUTH_URL: url,
    KIRO_OIDC_URL: url,
  };
}

Deno.test("start, dev, doctor and the binaries share one permission set", async (t) => {
  const tasks = readTasks();
  const start = taskFlags("start", "/h");
  await t.step("dev is start with --watch", () => {
    assert.deepEqual(taskFlags("dev", "/h").filter((f) => f !== "--watch"), start);
  });
  await t.step("doctor and demo use the same flags", () => {
    assert.deepEqual(taskFlags("doctor", "/h"), start);
    assert.deepEqual(taskFlags("demo", "/h"), start);
  });
  await t.step("--allow-env lists exactly the variables the gateway reads", () => {
    const env = start.find((f) => f.startsWith("--allow-env="))!.slice("--allow-env=".length);
    assert.deepEqual(env.split(",").sort(), [...ALLOWED_ENV_VARS].sort());
  });
  await t.step(
    "read and write are limited to .env, debug_logs, state and the credential folders",
    () => {
      const read = start.find((f) => f.startsWith("--allow-read="))!.split("=")[1]!.split(",");
      const write = start.find((f) => f.startsWith("--allow-write="))!.split("=")[1]!.split(",");
      assert.deepEqual(read.slice(0, 3), [".env", "debug_logs", "state"]);
      assert.ok(read.slice(3).every((p) => p.startsWith("/h/")), read.join(" "));
      assert.deepEqual(write, ["debug_logs", "state", ...read.slice(3)]);
      assert.ok(!start.includes("--allow-read") && !start.includes("--allow-write"));
      assert.ok(!start.includes("--allow-run") && !start.includes("-A"));
    },
  );
  for (const target of COMPILE_TARGETS) {
    await t.step(`compile:${target} bakes in the same net, sys and env flags`, () => {
      const words = splitWords(tasks[`compile:${target}`]!);
      assert.ok(words.includes(`--target`) && words.includes(target));
      const shared = (list: string[]) =>
        list.filter((f) => /^--allow-(net|sys|env)/.test(f)).sort();
      assert.deepEqual(shared(words), shared(start));
      const read = words.find((f) => f.startsWith("--allow-read="))!;
      assert.match(read, /^--allow-read=\.env,debug_logs,state,/);
    });
  }
  await t.step("the binaries and the benchmark gateway run with the same V8 flags", () => {
    const v8Flags = start.filter((f) => f.startsWith("--v8-flags="));
    assert.deepEqual(v8Flags, ["--v8-flags=--expose-gc"]);
    for (const target of COMPILE_TARGETS) {
      const words = splitWords(tasks[`compile:${target}`]!);
      assert.deepEqual(words.filter((f) => f.startsWith("--v8-flags=")), v8Flags, target);
    }
    assert.deepEqual([GATEWAY_V8_FLAGS], v8Flags);
  });
  await t.step("compile runs every target", () => {
    for (const target of COMPILE_TARGETS) assert.match(tasks.compile!, new RegExp(target));
  });
});

Deno.test("the real server under the task's flags answers a chat request", async () => {
  await using tmp = await tempDir();
  const { cwd, home } = await sandbox(tmp.path);
  await using kiro = await startFakeKiro();
  await using gateway = spawnGateway({
    cwd,
    home,
    env: upstreamEnv(kiro.url),
    args: ["--port", "0"],
  });
  const url = await gateway.waitForUrl();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      messages: [{ role: "user", content: "Hello" }],
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.choices[0].message.content, /Hello from the fake Kiro/);
  const sent = kiro.requests.find((r) => r.path === "/generateAssistantResponse");
  assert.equal(sent?.headers.authorization, "Bearer aoaTESTACCESSTOKEN0123456789");
  const { stdout } = await gateway.stop();
  assert.match(stdout, /File access: .*read\/write .*\.aws\/sso\/cache/);
  assert.ok(!stdout.includes("aoaTESTACCESSTOKEN0123456789"), "the log shows no token");
});

Deno.test("paths outside the allowed set are refused with the flag to add", async (t) => {
  await using tmp = await tempDir();
  const { cwd, home, outside } = await sandbox(tmp.path);
  await t.step("KIRO_CREDS_FILE outside: exit 2 naming --allow-read", async () => {
    const path = join(outside, "x.json");
    await using gateway = spawnGateway({
      cwd,
      home,
      env: { KIRO_CREDS_FILE: path, ...upstreamEnv("http://127.0.0.1:9") },
      args: ["--port", "0"],
    });
    const { code, stderr } = await gateway.exited();
    assert.equal(code, 2);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, new RegExp(`--allow-read=${path.replaceAll("/", "\\/")}`));
    assert.match(lines[0]!, /KIRO_GATEWAY_FLAGS=/);
  });
  await t.step("the flag the message names makes it work", async () => {
    const path = join(outside, "x.json");
    await using kiro = await startFakeKiro();
    await using gateway = spawnGateway({
      cwd,
      home,
      env: { KIRO_CREDS_FILE: path, ...upstreamEnv(kiro.url) },
      args: ["--port", "0"],
      extraFlags: [`--allow-read=${path}`, `--allow-write=${outside}`],
    });
    const url = await gateway.waitForUrl();
    const res = await fetch(`${url}/health`);
    assert.equal((await res.json()).status, "ok");
  });
  await t.step("--env-file outside: the read itself is refused with the flag named", async () => {
    const path = join(outside, "other.env");
    await using gateway = spawnGateway({ cwd, home, args: ["--env-file", path] });
    const { code, stderr } = await gateway.exited();
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`add --allow-read=${path.replaceAll("/", "\\/")}`));
  });
});
