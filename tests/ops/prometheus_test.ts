import assert from "node:assert/strict";
import { MetricRegistry } from "../../src/ops/prometheus.ts";
import { histogramOf, parseMetrics, valueOf } from "./prometheus_parse.ts";

Deno.test("the exposition writer's output reads back through a real parser", async () => {
  const registry = new MetricRegistry();
  const requests = registry.counter("demo_requests_total", "Requests by route.", ["route"]);
  const plain = registry.counter("demo_plain_total", "A counter without labels.");
  const gauge = registry.gauge("demo_up", "Up.", ["name"]);
  const latency = registry.histogram("demo_seconds", "Latency.", {
    labelNames: ["route"],
    buckets: [0.1, 1],
  });
  requests.inc({ route: "/a" });
  requests.inc({ route: "/a" }, 2);
  requests.inc({ route: 'we"ird\\path' });
  requests.inc({ route: "/a" }, -5); // ignored: counters never go down
  gauge.add(1, { name: "x" });
  latency.observe(0.05, { route: "/a" });
  latency.observe(0.5, { route: "/a" });
  latency.observe(7, { route: "/a" });
  latency.observe(0.01, { route: "/b" });
  const metrics = await parseMetrics(registry.render());
  assert.equal(valueOf(metrics, "demo_requests_total", { route: "/a" }), 3);
  assert.equal(valueOf(metrics, "demo_requests_total", { route: 'we"ird\\path' }), 1);
  assert.equal(metrics.demo_requests_total?.type, "counter");
  assert.equal(metrics.demo_requests_total?.help, "Requests by route.");
  assert.equal(valueOf(metrics, "demo_plain_total"), 0, "a label-less counter shows 0");
  plain.inc();
  assert.equal(valueOf(await parseMetrics(registry.render()), "demo_plain_total"), 1);
  assert.equal(valueOf(metrics, "demo_up", { name: "x" }), 1);
  assert.equal(metrics.demo_seconds?.type, "histogram");
  const a = histogramOf(metrics, "demo_seconds", { route: "/a" });
  assert.deepEqual(a?.buckets, { "0.1": 1, "1": 2, "+Inf": 3 });
  assert.equal(a?.count, 3);
  assert.equal(a?.sum, 7.55);
  assert.deepEqual(histogramOf(metrics, "demo_seconds", { route: "/b" })?.buckets, {
    "0.1": 1,
    "1": 1,
    "+Inf": 1,
  });
});

Deno.test("label values with quotes, backslashes and newlines are escaped", async () => {
  const registry = new MetricRegistry();
  registry.counter("demo_total", "Demo.", ["v"]).inc({ v: 'a"b\\c\nd' });
  const text = registry.render();
  assert.match(text, /demo_total\{v="a\\"b\\\\c\\nd"\} 1/);
  await parseMetrics(text); // throws on a malformed line
});

Deno.test("a gauge with a collector renders what the collector returns at that moment", async () => {
  const registry = new MetricRegistry();
  let up = 1;
  registry.gauge("demo_account_up", "Up.", ["account"])
    .collectWith(() => [[{ account: "a" }, up]]);
  assert.equal(
    valueOf(await parseMetrics(registry.render()), "demo_account_up", { account: "a" }),
    1,
  );
  up = 0;
  assert.equal(
    valueOf(await parseMetrics(registry.render()), "demo_account_up", { account: "a" }),
    0,
  );
});
