// deno-lint-ignore-file no-console -- says why the browser test is skipped
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { meteringFrame, textFrame } from "../frames.ts";
import { E2E_KEY, startE2eGateway } from "../e2e/gateway.ts";
import { CHROMIUM_PATH, hasChromium, launchChromium } from "./browser.ts";

const available = hasChromium();
const ci = Boolean(Deno.env.get("CI"));
if (!available && !ci) {
  console.warn(
    `Skipping the status page browser test: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`,
  );
}

async function chat(url: string, model: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${E2E_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hi" }] }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return res.headers.get("x-request-id") ?? "";
}

/** What a page did: console errors, uncaught exceptions and every request it made. */
interface PageWatch {
  consoleErrors: string[];
  requests: string[];
}

/** Records the page's console errors and requests; requests off the gateway are blocked. */
async function watchPage(page: Page, origin: string): Promise<PageWatch> {
  const watch: PageWatch = { consoleErrors: [], requests: [] };
  page.on("console", (message) => {
    if (message.type() === "error") watch.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => watch.consoleErrors.push(String(error)));
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    watch.requests.push(request.url());
    if (new URL(request.url()).origin === origin) request.continue();
    else request.abort();
  });
  return watch;
}

async function rowText(page: Page, selector: string): Promise<string> {
  return await page.$eval(selector, (row) => row.textContent ?? "");
}

Deno.test({
  name: "the status page shows live requests and accounts in headless Chromium",
  ignore: !available && !ci,
  async fn(t) {
    await using gw = await startE2eGateway();
    const origin = new URL(gw.url).origin;
    gw.kiro.replay({ frames: [textFrame("Before"), meteringFrame(0.25)] });
    const before = await chat(gw.url, "claude-sonnet-4.5");
    await using chromium = await launchChromium();

    await t.step(
      "with the key in the fragment: requests before and after, the account",
      async () => {
        const page = await chromium.browser.newPage();
        const watch = await watchPage(page, origin);
        await page.goto(`${gw.url}/status#key=${encodeURIComponent(E2E_KEY)}`);
        await page.waitForSelector(`tr[data-request-id="${before}"]`, { timeout: 10_000 });
        assert.match(await rowText(page, `tr[data-request-id="${before}"]`), /claude-sonnet-4\.5/);
        assert.match(await rowText(page, `tr[data-request-id="${before}"]`), /200/);
        const account = await rowText(page, 'tr[data-account="default"]');
        assert.match(account, /up \(ok\)/);
        assert.match(account, /in \d+ min/, "the token expiry is shown");
        assert.equal(new URL(page.url()).hash, "", "the key leaves the address bar");

        gw.kiro.replay({ frames: [textFrame("After"), meteringFrame(0.5)] });
        const after = await chat(gw.url, "claude-haiku-4-5");
        await page.waitForSelector(`tr[data-request-id="${after}"]`, { timeout: 10_000 });
        assert.match(await rowText(page, `tr[data-request-id="${after}"]`), /claude-haiku-4\.5/);
        assert.equal(await page.$eval("#total", (e) => e.textContent), "2");

        assert.deepEqual(watch.consoleErrors, []);
        assert.ok(watch.requests.length >= 2);
        for (const url of watch.requests) {
          assert.ok(
            url.startsWith(`${origin}/`) || url.startsWith("data:"),
            `outside request: ${url}`,
          );
        }
        assert.ok(watch.requests.some((url) => url === `${origin}/status.json`));
        for (const line of gw.logs) assert.ok(!line.includes(E2E_KEY), "the key is never logged");
        await page.close();
      },
    );

    await t.step("with the key typed in: kept for the tab across a reload", async () => {
      const page = await chromium.browser.newPage();
      const watch = await watchPage(page, origin);
      await page.goto(`${gw.url}/status`);
      await page.waitForFunction(
        'document.getElementById("message").textContent.includes("Enter the gateway key")',
        { timeout: 10_000 },
      );
      assert.equal(await page.$("tr[data-request-id]"), null, "no data before the key");
      await page.type("#key", E2E_KEY);
      await page.click("#key-form button[type=submit]");
      await page.waitForSelector(`tr[data-request-id="${before}"]`, { timeout: 10_000 });
      await page.reload();
      await page.waitForSelector(`tr[data-request-id="${before}"]`, { timeout: 10_000 });
      await page.click("#forget");
      await page.waitForFunction('document.querySelector("tr[data-request-id]") === null', {
        timeout: 10_000,
      });
      assert.deepEqual(watch.consoleErrors, []);
      await page.close();
    });

    await t.step("with a wrong key: no data at all", async () => {
      const page = await chromium.browser.newPage();
      const watch = await watchPage(page, origin);
      await page.goto(`${gw.url}/status#key=not-the-key`);
      await page.waitForFunction(
        'document.getElementById("message").textContent.includes("refused")',
        { timeout: 10_000 },
      );
      assert.equal(await page.$("tr[data-request-id]"), null);
      assert.equal(await page.$("tr[data-account]"), null);
      assert.equal(await page.$eval("#data", (e) => e.hasAttribute("hidden")), true);
      const body = await page.$eval("body", (e) => e.textContent ?? "");
      assert.ok(!body.includes(before), "no request id on the page");
      // The refused poll is the only error Chromium reports: its own line for the 401.
      for (const error of watch.consoleErrors) assert.match(error, /401/);
      for (const url of watch.requests) {
        assert.ok(
          url.startsWith(`${origin}/`) || url.startsWith("data:"),
          `outside request: ${url}`,
        );
      }
      await page.close();
    });
  },
});
