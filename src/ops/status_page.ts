/**
 * GET /status: one self-contained HTML page (inline style and script, nothing from elsewhere)
 * that polls /status.json with the key in an Authorization header. The key comes from the URL
 * fragment (`#key=…`, which browsers never send) or a password field and is kept in
 * sessionStorage; the page holds no data until the gateway accepts the key. A fresh nonce per
 * response lets the strict Content-Security-Policy allow exactly the page's own style and script.
 */

/** How often the page asks for /status.json, in ms. */
export const STATUS_POLL_MS = 1000;

/** Builds the page's response, with its Content-Security-Policy for `nonce`. */
export function statusPageResponse(nonce: string): Response {
  const policy = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return new Response(buildStatusPage(nonce), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": policy,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
    },
  });
}

function buildStatusPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Kiro Gateway status</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>Kiro Gateway</h1>
  <span id="health" class="pill">no data</span>
  <span id="meta" class="muted"></span>
  <form id="key-form" autocomplete="off">
    <input id="key" type="password" placeholder="Gateway key" aria-label="Gateway key">
    <button type="submit">Show</button>
    <button type="button" id="forget">Forget key</button>
  </form>
</header>
<p id="message" role="status"></p>
<main id="data" hidden>
  <section class="cards">
    <div class="card"><span class="label">Requests this minute</span><b id="rpm">0</b></div>
    <div class="card"><span class="label">Requests since start</span><b id="total">0</b></div>
    <div class="card"><span class="label">Errors since start</span><b id="errors">0</b></div>
    <div class="card"><span class="label">Active streams</span><b id="streams">0</b></div>
    <div class="card"><span class="label">Tokens in / out</span><b id="tokens">0 / 0</b></div>
    <div class="card"><span class="label">Credits</span><b id="credits">0</b></div>
  </section>
  <section>
    <h2>Requests per minute <span class="muted">(last 30 minutes)</span></h2>
    <div id="chart" class="chart" aria-label="Requests per minute"></div>
  </section>
  <section>
    <h2>Accounts</h2>
    <table id="accounts"><thead><tr><th>Account</th><th>State</th><th>Token expires</th>
    <th class="num">Credit left</th><th class="num">In flight</th><th class="num">Requests</th>
    <th>Why not ok</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Models since start</h2>
    <table id="models"><thead><tr><th>Model</th><th class="num">Requests</th>
    <th class="num">Errors</th><th class="num">Tokens in</th><th class="num">Tokens out</th>
    <th class="num">Credits</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent requests</h2>
    <table id="recent"><thead><tr><th>Time</th><th>Request id</th><th>Route</th><th>Model</th>
    <th>Account</th><th class="num">Status</th><th class="num">First byte</th>
    <th class="num">Duration</th><th class="num">Tokens in / out</th><th class="num">Credits</th>
    <th>Error</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { color-scheme: light dark; --bg: #f7f7f8; --fg: #1d1d1f; --muted: #6b6b73;
  --card: #fff; --line: #e3e3e8; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --bar: #5b6ee1; }
@media (prefers-color-scheme: dark) { :root { --bg: #16171a; --fg: #e8e8ea; --muted: #9a9aa3;
  --card: #1f2024; --line: #2e2f35; --ok: #3fb950; --warn: #d29922; --bad: #f85149;
  --bar: #7c8cf0; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px 32px; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 24px 0 8px; }
form { margin-left: auto; display: flex; gap: 6px; }
input, button { font: inherit; padding: 4px 10px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--card); color: var(--fg); }
button { cursor: pointer; }
.muted { color: var(--muted); font-weight: normal; }
.pill { padding: 2px 10px; border-radius: 999px; border: 1px solid var(--line);
  font-size: 12px; font-weight: 600; }
.pill.up, .state.up { color: var(--ok); }
.pill.down, .state.down { color: var(--bad); }
#message { min-height: 1.4em; color: var(--muted); }
#message.error { color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; }
.card .label { display: block; color: var(--muted); font-size: 12px; }
.card b { font-size: 20px; font-variant-numeric: tabular-nums; }
.chart { display: flex; align-items: flex-end; gap: 2px; height: 64px; padding: 4px;
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
.chart div { flex: 1; background: var(--bar); min-height: 1px; border-radius: 2px 2px 0 0; }
table { width: 100%; border-collapse: collapse; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left;
  white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
tbody tr:last-child td { border-bottom: 0; }
.num { text-align: right; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
.s2 { color: var(--ok); } .s4 { color: var(--warn); } .s5 { color: var(--bad); }
.err { color: var(--bad); }
.wrap { white-space: normal; max-width: 360px; }
section { overflow-x: auto; }
`;

const SCRIPT = `
"use strict";
const KEY_ITEM = "kiro-gateway-key";
const POLL_MS = ${STATUS_POLL_MS};
const $ = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat("en");
let timer;

function takeKeyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function clearData() {
  $("data").hidden = true;
  for (const id of ["accounts", "models", "recent"]) $(id).tBodies[0].replaceChildren();
  $("chart").replaceChildren();
  $("health").textContent = "no data";
  $("health").className = "pill";
  $("meta").textContent = "";
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function ms(value) {
  if (value === undefined) return "";
  return value < 1000 ? value + " ms" : (value / 1000).toFixed(value < 10000 ? 2 : 1) + " s";
}

function relative(iso, now) {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const size = Math.abs(seconds);
  const text = size < 90 ? size + " s" : size < 5400 ? Math.round(size / 60) + " min"
    : Math.round(size / 3600) + " h";
  return seconds >= 0 ? "in " + text : text + " ago";
}

function render(data) {
  const now = Date.parse(data.health.now);
  $("data").hidden = false;
  say("");
  $("health").textContent = data.health.status;
  $("health").className = "pill " + (data.health.status === "healthy" ? "up" : "down");
  $("meta").textContent = "version " + data.health.version + ", up " +
    relative(data.health.startedAt, now).replace(" ago", "") + ", updated " +
    new Date(now).toLocaleTimeString();
  const minutes = data.requestsPerMinute;
  $("rpm").textContent = numbers.format(minutes.at(-1)?.requests ?? 0);
  $("total").textContent = numbers.format(data.totals.requests);
  $("errors").textContent = numbers.format(data.totals.errors);
  $("streams").textContent = numbers.format(data.activeStreams);
  let tokensIn = 0, tokensOut = 0, credits = 0;
  for (const t of Object.values(data.totals.byModel)) {
    tokensIn += t.inputTokens; tokensOut += t.outputTokens; credits += t.credits;
  }
  $("tokens").textContent = numbers.format(tokensIn) + " / " + numbers.format(tokensOut);
  $("credits").textContent = numbers.format(Math.round(credits * 1000) / 1000);

  const peak = Math.max(1, ...minutes.map((m) => m.requests));
  $("chart").replaceChildren(...minutes.map((m) => {
    const bar = document.createElement("div");
    bar.style.height = (100 * m.requests / peak) + "%";
    bar.title = new Date(m.minute).toLocaleTimeString() + ": " + m.requests;
    return bar;
  }));

  const accounts = $("accounts").tBodies[0];
  accounts.replaceChildren();
  for (const a of data.accounts) {
    const row = accounts.insertRow();
    row.dataset.account = a.name;
    cell(row, a.name);
    const up = a.status === "ok";
    const until = a.cooldownUntil ? " until " + new Date(a.cooldownUntil).toLocaleTimeString() : "";
    cell(row, (up ? "up" : "down") + " (" + a.status + until + ")", "state " + (up ? "up" : "down"));
    cell(row, a.tokenExpiresAt ? relative(a.tokenExpiresAt, now) : "unknown");
    cell(row, a.creditLeft === undefined ? "unknown" : numbers.format(a.creditLeft), "num");
    cell(row, a.inFlight === undefined ? "" : numbers.format(a.inFlight), "num");
    cell(row, a.requests === undefined ? "" : numbers.format(a.requests), "num");
    cell(row, a.reason, "wrap err");
  }

  const models = $("models").tBodies[0];
  models.replaceChildren();
  for (const [name, t] of Object.entries(data.totals.byModel)) {
    const row = models.insertRow();
    cell(row, name, "mono");
    cell(row, numbers.format(t.requests), "num");
    cell(row, numbers.format(t.errors), "num");
    cell(row, numbers.format(t.inputTokens), "num");
    cell(row, numbers.format(t.outputTokens), "num");
    cell(row, numbers.format(t.credits), "num");
  }

  const recent = $("recent").tBodies[0];
  recent.replaceChildren();
  for (const r of data.recent) {
    const row = recent.insertRow();
    row.dataset.requestId = r.requestId;
    cell(row, new Date(r.time).toLocaleTimeString());
    cell(row, r.requestId, "mono");
    cell(row, r.method + " " + r.route, "mono");
    cell(row, r.model, "mono");
    cell(row, r.account);
    cell(row, r.status, "num s" + String(r.status)[0]);
    cell(row, ms(r.ttfbMs), "num");
    cell(row, ms(r.durationMs), "num");
    cell(row, r.inputTokens === undefined ? "" :
      numbers.format(r.inputTokens) + " / " + numbers.format(r.outputTokens ?? 0), "num");
    cell(row, r.credits, "num");
    cell(row, (r.errorClass ?? "") + (r.truncated ? " truncated" : ""), "err");
  }
}

async function poll() {
  clearTimeout(timer);
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) {
    clearData();
    say("Enter the gateway key (PROXY_API_KEY) to see the status.");
    return;
  }
  let response;
  try {
    response = await fetch("/status.json", {
      headers: { authorization: "Bearer " + key },
      cache: "no-store",
    });
  } catch {
    say("Cannot reach the gateway; trying again.", true);
    timer = setTimeout(poll, POLL_MS * 5);
    return;
  }
  if (response.status === 401) {
    await response.body?.cancel();
    sessionStorage.removeItem(KEY_ITEM);
    clearData();
    say("The gateway refused this key: enter its PROXY_API_KEY.", true);
    return;
  }
  if (!response.ok) {
    await response.body?.cancel();
    say("The gateway answered HTTP " + response.status + "; trying again.", true);
    timer = setTimeout(poll, POLL_MS * 5);
    return;
  }
  render(await response.json());
  timer = setTimeout(poll, POLL_MS);
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  $("key").value = "";
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  poll();
});
$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_ITEM);
  poll();
});
takeKeyFromFragment();
poll();
`;
