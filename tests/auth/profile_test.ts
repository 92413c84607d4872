import assert from "node:assert/strict";
import { discoverProfileArn } from "../../src/auth/profile.ts";
import { GatewayError } from "../../src/errors.ts";
import { arnIn, startFakeAuth } from "./fake_auth.ts";

Deno.test("discoverProfileArn follows nextToken to the first profile", async () => {
  await using fake = startFakeAuth();
  fake.on("/ListAvailableProfiles", (_req, index) =>
    Response.json(
      index === 0
        ? { profiles: [], nextToken: "page-2" }
        : { profiles: [{ arn: arnIn("eu-central-1") }, { arn: arnIn("us-east-1") }] },
    ));
  const arn = await discoverProfileArn(fake.url, "access-token");
  assert.equal(arn, arnIn("eu-central-1"));
  const [first, second] = fake.requests;
  assert.equal(first?.method, "POST");
  assert.equal(first.headers.get("authorization"), "Bearer access-token");
  assert.equal(first.headers.get("content-type"), "application/json");
  assert.deepEqual(first.body, {});
  assert.deepEqual(second?.body, { nextToken: "page-2" });
});

Deno.test("discoverProfileArn failures explain how to set PROFILE_ARN", async (t) => {
  await using fake = startFakeAuth();
  const cases: [string, Response, RegExp][] = [
    ["a refusal", new Response("denied", { status: 403 }), /answered HTTP 403: set PROFILE_ARN/],
    [
      "no profile",
      Response.json({ profiles: [] }),
      /lists no profile for this login: set PROFILE_ARN/,
    ],
  ];
  for (const [name, answer, message] of cases) {
    await t.step(name, async () => {
      fake.on("/ListAvailableProfiles", () => answer);
      const err = await discoverProfileArn(fake.url, "t").catch((e) => e);
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "kiro_auth");
      assert.match(err.message, /^No Kiro profile ARN is known/);
      assert.match(err.message, message);
    });
  }
});
