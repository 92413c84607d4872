/**
 * The pool in the real server process under the start task's exact permissions: accounts from
 * a KIRO_ACCOUNTS_FILE in an allowed folder serve chats, and a bad entry stops start-up with one
 * line and exit code 2.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { spawnGateway } from "../ops/gateway_process.ts";
import { startFakePool } from "./fake_pool.ts";

const KEY = "pool-process-key-0123456789";

async function sandbox(root: string) {
  const base = resolve(root);
  const cwd = join(base, "work");
  const home = join(base, "home");
  const folder = join(home, ".aws", "sso", "cache");
  await Deno.mkdir(cwd, { recursive: true });
  await Deno.mkdir(folder, { recursive: true });
  return { cwd, home, folder };
}

function env(url: string, file: string): Record<string, string> {
  return {
    PROXY_API_KEY: KEY,
    KIRO_ACCOUNTS_FILE: file,
    KIRO_API_URL: url,
    KIRO_AUTH_URL: url,
    KIRO_MANAGEMENT_URL: url,
    KIRO_OIDC_URL: url,
    KIRO_Q_URL: url,
  };
}

Deno.test("the gateway process serves from a KIRO_ACCOUNTS_FILE and fails over", async () => {
  await using tmp = await tempDir();
  const { cwd, home, folder } = await sandbox(tmp.path);
  await using pool = await startFakePool(["a", "b"]);
  const tokenFile = join(folder, "b.json");
  await Deno.writeTextFile(tokenFile, JSON.stringify({ refreshToken: "refresh-b" }));
  const file = join(folder, "accounts.json");
  await Deno.writeTextFile(
    file,
    JSON.stringify([
      { type: "refresh_token", refresh_token: "refresh-a", name: "a" },
      { type: "json", path: tokenFile, name: "b" },
    ]),
  );
  pool.account("a").fault = { status: 429 };
  await using gateway = spawnGateway({
    cwd,
    home,
    env: env(pool.url, file),
    args: ["--port", "0"],
  });
  const url = await gateway.waitForUrl();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "auto-kiro", messages: [{ role: "user", content: "Hi" }] }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.choices[0].message.content, "Hello from b");
  const health = await (await fetch(`${url}/health`, { headers: { "x-api-key": KEY } })).json();
  assert.deepEqual(
    health.accounts.map((a: { name: string; status: string }) => [a.name, a.status]),
    [["a", "cooling"], ["b", "ok"]],
  );
  assert.equal(health.status, "degraded");
  const written = JSON.parse(await Deno.readTextFile(tokenFile));
  assert.equal(written.accessToken, "access-b-1", "b's token went back to its own file");
  await Deno.stat(join(cwd, "state", "state.db"));
});

Deno.test("a bad KIRO_ACCOUNTS_FILE entry stops the process with one line, exit 2", async () => {
  await using tmp = await tempDir();
  const { cwd, home, folder } = await sandbox(tmp.path);
  const file = join(folder, "accounts.json");
  await Deno.writeTextFile(
    file,
    JSON.stringify([{ type: "json", path: join(folder, "missing.json"), name: "gone" }]),
  );
  await using gateway = spawnGateway({
    cwd,
    home,
    env: env("http://127.0.0.1:9", file),
    args: ["--port", "0"],
  });
  const { code, stderr } = await gateway.exited();
  assert.equal(code, 2);
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /KIRO_ACCOUNTS_FILE .*entry 1 \("gone"\): ".*missing.json" not found/);
});
