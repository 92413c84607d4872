/**
 * Debian's headless Chromium driven by puppeteer-core, for tests that load the gateway's pages
 * as a person would. Its profile lives in a temporary folder under TEST_TMP; every background
 * service that could reach the network is switched off.
 */
import puppeteer, { type Browser } from "puppeteer-core";
import { tempDir } from "../helpers.ts";

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Whether Chromium is installed. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/** A running headless Chromium; dispose it to close the browser and remove its profile. */
export interface HeadlessChromium extends AsyncDisposable {
  browser: Browser;
}

/** Starts headless Chromium with a fresh profile. */
export async function launchChromium(): Promise<HeadlessChromium> {
  const profile = await tempDir();
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile.path}`,
    ],
  });
  return {
    browser,
    async [Symbol.asyncDispose]() {
      await browser.close();
      await profile[Symbol.asyncDispose]();
    },
  };
}
