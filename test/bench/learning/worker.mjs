// A worker thread of the learning benchmark: loads the core once, then runs the episodes it is sent, one at a time.

import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { createLearner, runEpisode } from './simulator.mjs';

const require = createRequire(import.meta.url);
const core = require(workerData.corePath);

parentPort.on('message', async (job) => {
  try {
    const learner = createLearner(core, job.learner, { tempRoot: workerData.tempRoot });
    const result = await runEpisode({ scenario: job.scenario, learner, seed: job.seed, runs: job.runs });
    parentPort.postMessage({ id: job.id, result });
  } catch (err) {
    parentPort.postMessage({
      id: job.id,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
});
