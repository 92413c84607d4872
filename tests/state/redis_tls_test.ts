/**
 * `rediss://` with a password, end to end: a real gateway process (the start task's exact
 * permissions) reaches a TLS redis-server whose certificate a test CA signed, trusted through
 * Deno's own DENO_CERT; a wrong password leaves it serving, degraded, with the password never
 * in its output.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { spawnInstance } from "../e2e/instances.ts";
import { RedisServer } from "./redis_server.ts";

const API_KEY = "tls-test-key-0123456789";
const PASSWORD = "correct-redis-password";

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const days = ["-days", "2"];
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    ...days,
    "-subj",
    "/CN=kiro-gateway test CA",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1\n");
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    ...days,
    "-extfile",
    "san.cnf",
  ]);
  return {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
  };
}

Deno.test("rediss:// with a password: shared through TLS; a wrong password serves degraded", async () => {
  await using tmp = await tempDir();
  const root = resolve(tmp.path);
  const certs = await makeCertificates(root);
  await using redis = new RedisServer(root, undefined, {
    tls: { certFile: certs.cert, keyFile: certs.key },
    password: PASSWORD,
  });
  await redis.start();
  const env = (url: string) => ({
    PROXY_API_KEY: API_KEY,
    REFRESH_TOKEN: "unused-refresh-token",
    STATE_URL: url,
    STATE_SECRET: "tls test shared secret",
    SERVER_PORT: "0",
    DENO_CERT: certs.ca,
  });
  const health = async (url: string) => {
    const res = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${API_KEY}` } });
    return await res.json();
  };

  await using good = await spawnInstance({ name: "good", root, env: env(redis.url()) });
  const shared = await health(good.url);
  assert.deepEqual(shared.state, { backend: "redis", connected: true });
  assert.ok(good.count(/Sharing state through Redis redis=rediss:\/\/127\.0\.0\.1:\d+\/0/) === 1);

  const wrong = redis.url().replace(PASSWORD, "wrong-password");
  await using bad = await spawnInstance({ name: "bad", root, env: env(wrong) });
  const degraded = await health(bad.url);
  assert.equal(degraded.status, "degraded");
  assert.deepEqual(degraded.state, { backend: "redis", connected: false });
  await bad.waitForLine(/Redis is unreachable.*WRONGPASS/);
  for (const instance of [good, bad]) {
    assert.ok(!instance.lines.some((line) => /correct-redis-password|wrong-password/.test(line)));
  }
});
