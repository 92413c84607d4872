import assert from "node:assert/strict";
import { stateSharedTokens, tokensKey } from "../../src/auth/shared_tokens.ts";
import {
  createTokenSource,
  REFRESH_LOCK_MS,
  type TokenSource,
} from "../../src/auth/token_source.ts";
import { silentLogger } from "../../src/log.ts";
import { MemoryState, type StateStore } from "../../src/state/state.ts";
import { within } from "../helpers.ts";
import { arnIn, type FakeAuth, fakeClock, fakeConfig, startFakeAuth } from "./fake_auth.ts";

/** Two "instances" of one account: token sources sharing `state`. */
function instance(
  fake: FakeAuth,
  state: StateStore,
  clock: { now: () => number },
  publishTokens: boolean,
): Promise<TokenSource> {
  return createTokenSource(fakeConfig(fake, { refreshToken: "refresh-0" }), {
    logger: silentLogger(),
    now: clock.now,
    homeDir: "/nonexistent",
    shared: stateSharedTokens(state, "main", { publishTokens }),
    sleep: () => Promise.resolve(),
  });
}

Deno.test("with a shared store, a second instance uses the rotated token instead of refreshing", async () => {
  await using fake = startFakeAuth();
  let n = 0;
  fake.on("/refreshToken", (req) => {
    const sent = (req.body as { refreshToken: string }).refreshToken;
    if (sent !== `refresh-${n}`) return Response.json({ message: "rotated away" }, { status: 401 });
    n++;
    return Response.json({
      accessToken: `access-${n}`,
      refreshToken: `refresh-${n}`,
      expiresIn: 3600,
      profileArn: arnIn("us-east-1"),
    });
  });
  const clock = fakeClock();
  const state = new MemoryState(clock.now);
  const one = await instance(fake, state, clock, true);
  const two = await instance(fake, state, clock, true);
  assert.equal((await one.getAccess()).accessToken, "access-1");
  assert.ok((await state.get(tokensKey("main")))?.includes("access-1"));
  assert.equal((await two.getAccess()).accessToken, "access-1", "two took one's token");
  assert.equal(fake.to("/refreshToken").length, 1);
  assert.equal((await two.forceRefresh("access-1")).accessToken, "access-2");
  assert.equal((await one.forceRefresh("access-1")).accessToken, "access-2", "one took two's");
  assert.equal(fake.to("/refreshToken").length, 2, "the rotated refresh token was never reused");
});

Deno.test("with a local store, tokens never enter it; the lock still admits one refresher", async () => {
  await using fake = startFakeAuth();
  const release = Promise.withResolvers<void>();
  fake.on("/refreshToken", async () => {
    await release.promise;
    return Response.json({
      accessToken: "access-1",
      refreshToken: "refresh-1",
      expiresIn: 3600,
      profileArn: arnIn("us-east-1"),
    });
  });
  const clock = fakeClock();
  const state = new MemoryState(clock.now);
  const shared = stateSharedTokens(state, "main", { publishTokens: false });
  const held = await shared.lock(30_000);
  assert.ok(held, "the test holds the refresh lock like another instance would");
  let attempts = 0;
  const polled = Promise.withResolvers<void>();
  const source = await createTokenSource(fakeConfig(fake, { refreshToken: "refresh-0" }), {
    logger: silentLogger(),
    now: clock.now,
    homeDir: "/nonexistent",
    shared: {
      ...shared,
      lock: async (ttlMs) => {
        if (++attempts === 3) polled.resolve();
        return await shared.lock(ttlMs);
      },
    },
    sleep: () => new Promise((resolve) => setTimeout(resolve, 0)),
  });
  const waiting = source.getAccess();
  await within(polled.promise);
  assert.equal(fake.to("/refreshToken").length, 0, "no refresh while another holds the lock");
  await held();
  release.resolve();
  assert.equal((await within(waiting)).accessToken, "access-1");
  assert.equal(fake.to("/refreshToken").length, 1);
  assert.equal(await state.get(tokensKey("main")), undefined, "no token in the local store");
});

Deno.test("a holder that died with the refresh lock: a waiter refreshes once the lock expires", async () => {
  await using fake = startFakeAuth();
  fake.on("/refreshToken", () =>
    Response.json({
      accessToken: "access-1",
      refreshToken: "refresh-1",
      expiresIn: 3600,
      profileArn: arnIn("us-east-1"),
    }));
  const clock = fakeClock();
  const state = new MemoryState(clock.now);
  const shared = stateSharedTokens(state, "main", { publishTokens: true });
  assert.ok(await shared.lock(REFRESH_LOCK_MS), "the dead holder's lock, never released");
  clock.ms += 10; // the waiter arrives just after the holder took the lock
  const source = await createTokenSource(fakeConfig(fake, { refreshToken: "refresh-0" }), {
    logger: silentLogger(),
    now: clock.now,
    homeDir: "/nonexistent",
    shared,
    // Each poll costs a little more than the pause itself, as real work does.
    sleep: (ms) => {
      clock.ms += ms + 3;
      return Promise.resolve();
    },
  });
  assert.equal((await within(source.getAccess())).accessToken, "access-1");
  assert.equal(fake.to("/refreshToken").length, 1);
});

Deno.test("a refresh that finished just before the lock was taken is used, not repeated", async () => {
  await using fake = startFakeAuth();
  let n = 0;
  fake.on("/refreshToken", (req) => {
    const sent = (req.body as { refreshToken: string }).refreshToken;
    if (sent !== `refresh-${n}`) return Response.json({ message: "rotated away" }, { status: 400 });
    n++;
    return Response.json({
      accessToken: `access-${n}`,
      refreshToken: `refresh-${n}`,
      expiresIn: 3600,
      profileArn: arnIn("us-east-1"),
    });
  });
  const clock = fakeClock();
  const state = new MemoryState(clock.now);
  const one = await instance(fake, state, clock, true);
  const shared = stateSharedTokens(state, "main", { publishTokens: true });
  const two = await createTokenSource(fakeConfig(fake, { refreshToken: "refresh-0" }), {
    logger: silentLogger(),
    now: clock.now,
    homeDir: "/nonexistent",
    shared: {
      ...shared,
      // Two looked for a published token and found none; before it takes the lock, one
      // refreshes, publishes and lets go.
      lock: async (ttlMs) => {
        await one.getAccess();
        return await shared.lock(ttlMs);
      },
    },
    sleep: () => Promise.resolve(),
  });
  assert.equal((await two.getAccess()).accessToken, "access-1");
  assert.equal(fake.to("/refreshToken").length, 1, "the used refresh token was not sent again");
});
