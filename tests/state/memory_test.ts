import { MemoryState } from "../../src/state/state.ts";
import { stateContract } from "./state_contract.ts";

Deno.test("MemoryState keeps the StateStore contract", async (t) => {
  await stateContract(t, () => {
    let now = 1_000_000;
    const store = new MemoryState(() => now);
    return Promise.resolve({
      store,
      advance: (ms: number) => {
        now += ms;
        return Promise.resolve();
      },
    });
  });
});
