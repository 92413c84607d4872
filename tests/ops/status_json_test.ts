import assert from "node:assert/strict";
import { meteringFrame, textFrame } from "../frames.ts";
import { E2E_KEY, startE2eGateway } from "../e2e/gateway.ts";

const AUTH = { authorization: `Bearer ${E2E_KEY}` };

Deno.test("GET /status.json shows recent requests, accounts and totals, and no text", async () => {
  await using gw = await startE2eGateway({ journalSize: 2 });
  const secretPrompt = "my-private-prompt-5521";
  gw.kiro.replay(
    { frames: [textFrame("private-answer-9931"), meteringFrame(0.5)] },
    { frames: [textFrame("second"), meteringFrame(0.25)] },
    { frames: [textFrame("third"), meteringFrame(0.25)] },
  );
  const ids: string[] = [];
  for (const model of ["claude-sonnet-4.5", "claude-haiku-4-5", "invented-model"]) {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model,
        max_tokens: 100,
        messages: [{ role: "user", content: secretPrompt }],
      }),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    ids.push(res.headers.get("x-request-id") ?? "");
  }
  const res = await fetch(`${gw.url}/status.json`, { headers: AUTH });
  assert.equal(res.status, 200);
  const text = await res.text();
  const status = JSON.parse(text);
  assert.equal(status.health.status, "healthy");
  assert.equal(status.journalSize, 2);
  assert.deepEqual(
    status.recent.map((r: { requestId: string }) => r.requestId),
    [ids[2], ids[1]],
    "newest first, at most JOURNAL_SIZE, operator routes left out",
  );
  const [newest] = status.recent;
  assert.equal(newest.route, "/v1/messages");
  assert.equal(newest.dialect, "anthropic");
  assert.equal(newest.model, "other");
  assert.equal(newest.account, "default");
  assert.equal(newest.status, 200);
  assert.equal(newest.credits, 0.25);
  assert.equal(typeof newest.durationMs, "number");
  assert.equal(typeof newest.ttfbMs, "number");
  assert.equal(typeof newest.inputTokens, "number");
  assert.deepEqual(
    status.accounts.map((a: { name: string; status: string }) => [a.name, a.status]),
    [["default", "ok"]],
  );
  assert.equal(typeof status.accounts[0].tokenExpiresAt, "string");
  assert.deepEqual(Object.keys(status.totals.byModel).sort(), [
    "claude-haiku-4.5",
    "claude-sonnet-4.5",
    "other",
  ]);
  assert.equal(status.totals.byModel["claude-sonnet-4.5"].credits, 0.5);
  assert.equal(status.totals.requests, 3);
  assert.equal(status.requestsPerMinute.at(-1).requests, 3);
  for (const secret of [secretPrompt, "private-answer-9931", E2E_KEY, "refresh-", "access-1"]) {
    assert.ok(!text.includes(secret), `no ${secret} in /status.json`);
  }
});

Deno.test("GET /status is a self-contained page with a strict Content-Security-Policy", async () => {
  await using gw = await startE2eGateway();
  const first = await fetch(`${gw.url}/status`);
  assert.equal(first.status, 200, "the page itself holds no data and needs no key");
  const html = await first.text();
  const policy = first.headers.get("content-security-policy") ?? "";
  const nonce = policy.match(/script-src 'nonce-([0-9a-f]+)'/)?.[1];
  assert.ok(nonce, policy);
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /connect-src 'self'/);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|\*/);
  assert.ok(html.includes(`<script nonce="${nonce}">`));
  assert.ok(html.includes(`<style nonce="${nonce}">`));
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, "nothing is loaded from elsewhere");
  const second = await fetch(`${gw.url}/status`);
  await second.body?.cancel();
  assert.notEqual(second.headers.get("content-security-policy"), policy, "a nonce per response");
});
