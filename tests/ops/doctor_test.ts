import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfig } from "../../src/config.ts";
import { type Finding, formatFinding, runDoctor } from "../../src/doctor.ts";
import { startFakeKiro } from "../fake_kiro.ts";
import { tempDir } from "../helpers.ts";

const NOW = Date.parse("2026-05-01T00:00:00Z");
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST";

function upstreams(url: string) {
  return { api: url, management: url, auth: url, oidc: url, q: url };
}

/** A base URL on which nothing listens. */
async function closedUrl(): Promise<string> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  await server.shutdown();
  return url;
}

function failures(findings: Finding[]): string[] {
  return findings.filter((f) => f.level === "fail").map(formatFinding);
}

Deno.test("doctor passes with good credentials and a reachable upstream", async () => {
  await using tmp = await tempDir();
  await using kiro = await startFakeKiro();
  const path = join(tmp.path, "kiro-auth-token.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      accessToken: "aoaGOODACCESS0123456789",
      refreshToken: "aorGOODREFRESH0123456789",
      expiresAt: "2026-05-01T01:00:00.000Z",
      profileArn: ARN,
      region: "us-east-1",
    }),
  );
  const config = defaultConfig({
    credsFile: path,
    stateDir: join(tmp.path, "state"),
    upstream: upstreams(kiro.url),
  });
  const findings = await runDoctor(config, { platform: "linux", now: () => NOW });
  assert.deepEqual(failures(findings), []);
  const lines = findings.map(formatFinding).join("\n");
  assert.match(lines, /token valid until 2026-05-01T01:00:00.000Z \(60 min\); refreshable/);
  assert.match(lines, new RegExp(`Profile ARN ${ARN}`));
  assert.match(lines, /Kiro API host .* reachable \(HTTP 404\)/);
  assert.equal(kiro.requests.filter((r) => r.method === "HEAD").length, 5);
  assert.ok(!lines.includes("aoaGOODACCESS0123456789") && !lines.includes("aorGOOD"));
});

Deno.test("doctor names what to fix for broken credentials and upstreams", async (t) => {
  await using tmp = await tempDir();
  const down = await closedUrl();
  const cases: Array<{ name: string; file: string; expect: RegExp[] }> = [
    {
      name: "an expired token without a refresh token",
      file: JSON.stringify({ accessToken: "aoaOLD0123456789", expiresAt: "2026-04-01T00:00:00Z" }),
      expect: [/expired at 2026-04-01.* no refreshToken: sign in with Kiro again/],
    },
    {
      name: "a file that is not JSON",
      file: "not json",
      expect: [/KIRO_CREDS_FILE ".*": unusable: .*not a JSON object/],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const path = join(tmp.path, `${c.name.replaceAll(" ", "_")}.json`);
      await Deno.writeTextFile(path, c.file);
      const config = defaultConfig({
        credsFile: path,
        profileArn: "not-an-arn",
        upstream: upstreams(down),
      });
      const findings = await runDoctor(config, {
        platform: "linux",
        now: () => NOW,
        probeTimeoutMs: 2000,
      });
      const failed = failures(findings).join("\n");
      for (const pattern of c.expect) assert.match(failed, pattern);
      assert.match(failed, /Profile ARN "not-an-arn" does not look like/);
      assert.match(
        failed,
        /FAIL Kiro API host http:\/\/127\.0\.0\.1:\d+ unreachable: .*VPN_PROXY_URL/,
      );
      assert.equal(findings.filter((f) => /unreachable/.test(f.message)).length, 5);
    });
  }
  await t.step("a configured file that does not exist", async () => {
    const config = defaultConfig({ credsFile: join(tmp.path, "missing.json") });
    const findings = await runDoctor(config, {
      platform: "linux",
      now: () => NOW,
      fetch: () => Promise.resolve(new Response(null, { status: 404 })),
    });
    assert.match(failures(findings).join("\n"), /missing\.json": file not found; fix the path/);
  });
});
