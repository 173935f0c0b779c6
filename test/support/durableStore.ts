// A DurableStore as the store tests open one: the default reward weights, no polling, saved only when a test asks
// (or closes), texts bounded at 1 MiB; `options` override any of these.

import { DurableStore, type DurableStoreOptions } from '../../src/core/store/durableStore';
import { computeReward } from '../../src/core/learning/reward';
import { defaultConfig } from '../../src/core/workspace/config';

export function openDurableStore(
  agentDir: string,
  log: (line: string) => void,
  options: Partial<DurableStoreOptions> = {},
): Promise<DurableStore> {
  const weights = defaultConfig().rewardWeights;
  return DurableStore.open({
    agentDir,
    now: Date.now,
    log,
    reward: (r) => computeReward(r, weights),
    pollIntervalMs: 0,
    saveDelayMs: 60_000,
    maxTextBytes: () => 1024 * 1024,
    ...options,
  });
}
