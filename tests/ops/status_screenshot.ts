/**
 * Takes the README's screenshot of the status page (docs/status-page.png): a gateway in front
 * of the fake Kiro, some varied traffic, then headless Chromium. Run by hand:
 *   deno run --config deno.test.json -A tests/ops/status_screenshot.ts docs/status-page.png
 */
import { contextUsageFrame, meteringFrame, textFrame } from "../frames.ts";
import { E2E_KEY, startE2eGateway } from "../e2e/gateway.ts";
import { launchChromium } from "./browser.ts";

const output = Deno.args[0] ?? "docs/status-page.png";
await using gw = await startE2eGateway();

async function chat(model: string, stream = false): Promise<void> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Hi" }] }),
  });
  await res.text();
}

const answer = (credits: number, percent: number) => ({
  frames: [textFrame("An answer."), meteringFrame(credits), contextUsageFrame(percent)],
});
for (
  const [model, credits, percent] of [
    ["claude-sonnet-4-5", 0.31, 4],
    ["claude-haiku-4-5", 0.08, 1],
    ["claude-sonnet-4.5", 0.42, 6],
    ["claude-opus-4.6", 1.12, 9],
  ] as const
) {
  gw.kiro.replay(answer(credits, percent));
  await chat(model, model.includes("opus"));
}
gw.kiro.replay({ status: 429, headers: { "retry-after": "120" }, body: { message: "Slow down" } });
await chat("claude-sonnet-4.5");
gw.kiro.replay({ frames: [textFrame("A reply cut off in the mid")] });
await chat("claude-sonnet-4.5", true);
gw.kiro.replay(answer(0.05, 1));
await chat("my-own-model-name");
await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${E2E_KEY}` } })
  .then((res) => res.text());

await using chromium = await launchChromium();
const page = await chromium.browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
await page.goto(`${gw.url}/status#key=${encodeURIComponent(E2E_KEY)}`);
await page.waitForSelector("tr[data-request-id]");
await page.screenshot({ path: output, fullPage: true });
await page.close();
