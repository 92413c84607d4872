import assert from "node:assert/strict";
import { tempDir } from "../helpers.ts";
import { emptySandbox, spawnGateway } from "./gateway_process.ts";

Deno.test("the gateway prints its bound address and stops cleanly on SIGTERM", async () => {
  await using tmp = await tempDir();
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({ cwd, home, args: ["--demo", "--port", "0"] });
  const url = await gateway.waitForUrl();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${url}/health`);
  assert.equal((await health.json()).status, "ok");
  const result = await gateway.stop();
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Shutting down/);
});

Deno.test("a missing generated key is printed once with how to keep one", async () => {
  await using tmp = await tempDir();
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({ cwd, home, args: ["--demo", "--port", "0"] });
  const url = await gateway.waitForUrl();
  const result = await gateway.stop();
  const all = `${result.stdout}\n${result.stderr}`;
  const keys = [...all.matchAll(/this run: (kgw-[A-Za-z0-9_-]{43})/g)];
  assert.equal(keys.length, 1, all);
  assert.match(all, /PROXY_API_KEY/);
  void url;
});

Deno.test("bad configuration exits with code 2 and one line per problem", async () => {
  await using tmp = await tempDir();
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({
    cwd,
    home,
    env: { SERVER_PORT: "eighty", FIRST_TOKEN_TIMEOUT: "-1" },
    args: ["--demo"],
  });
  const result = await gateway.exited();
  assert.equal(result.code, 2);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 2, result.stderr);
  assert.match(lines[0]!, /^Invalid SERVER_PORT: /);
  assert.match(lines[1]!, /^Invalid FIRST_TOKEN_TIMEOUT: /);
  assert.ok(!result.stderr.includes("    at "), "no stack trace");
});
