/**
 * Takes the README's screenshot of the status page (docs/status-page.png): a gateway with
 * three accounts in front of the fake Kiro, some varied traffic, then headless Chromium. Run
 * by hand: deno run --config deno.test.json -A tests/ops/status_screenshot.ts docs/status-page.png
 */
import { tempDir } from "../helpers.ts";
import { POOL_KEY, startFakePool, startPoolGateway, tokenEntries } from "../accounts/fake_pool.ts";
import { launchChromium } from "./browser.ts";

const output = Deno.args[0] ?? "docs/status-page.png";
await using tmp = await tempDir();
await using pool = await startFakePool(["work", "personal", "spare"]);
const usage = (used: number, limit: number) => ({
  subscriptionInfo: { subscriptionTitle: "KIRO PRO" },
  usageBreakdownList: [{
    resourceType: "CREDIT",
    usageLimit: limit,
    usageLimitWithPrecision: limit,
    currentUsage: Math.floor(used),
    currentUsageWithPrecision: used,
  }],
  nextDateReset: Math.floor(Date.now() / 1000) + 12 * 86_400,
  overageConfiguration: { overageStatus: "DISABLED" },
});
pool.account("work").usage = usage(612.37, 1000);
pool.account("personal").usage = usage(48.5, 50);
pool.account("spare").usage = usage(3.2, 1000);
await using gateway = await startPoolGateway(pool, {
  accounts: tokenEntries(["work", "personal", "spare"]),
  dir: tmp.path,
});

async function chat(model: string, stream = false): Promise<void> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${POOL_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Hi" }] }),
  });
  await res.text();
}

const models = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4.6", "claude-sonnet-4.5"];
for (let i = 0; i < 8; i++) {
  await chat(models[i % models.length]!, i % 3 === 0);
}
// Kiro throttles "work": the pool moves on to "personal" and lets "work" cool down.
pool.account("work").fault = { status: 429, body: { message: "Too many requests" } };
for (let i = 0; i < 3; i++) await chat("claude-sonnet-4.5");
await chat("my-own-model-name");
await gateway.getJson("/v1/usage");

await using chromium = await launchChromium();
const page = await chromium.browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
await page.goto(`${gateway.url}/status#key=${encodeURIComponent(POOL_KEY)}`);
await page.waitForSelector("tr[data-request-id]");
await page.screenshot({ path: output, fullPage: true });
await page.close();
