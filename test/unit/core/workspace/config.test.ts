import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultConfig, parseConfig, readConfigFile } from '../../../../src/core/workspace/config';
import { ConfigError } from '../../../../src/core/errors';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

// The example `.agent/learning-config.json` from the seed's Quick Start, verbatim.
const SEED_EXAMPLE = `{
  "enabled": true,
  "autoExport": {
    "enabled": true,
    "minRuns": 100,
    "minReward": 0.7,
    "maxExamples": 1000
  },
  "autoTrain": {
    "enabled": true,
    "minExamples": 500,
    "baseModel": "qwen2.5-coder:7b",
    "loraRank": 16,
    "epochs": 3
  },
  "autoDeploy": {
    "enabled": true,
    "modelNamePrefix": "my-coder-tuned"
  }
}
`;

describe('config', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = makeWorkspace();
    file = path.join(dir, 'learning-config.json');
  });

  afterEach(() => removeWorkspace(dir));

  /** Writes the config file and reads it back, returning the ConfigError it throws (failing if none). */
  function configErrorFor(text: string): ConfigError {
    fs.writeFileSync(file, text);
    try {
      readConfigFile(file);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected readConfigFile to throw a ConfigError');
  }

  describe('defaults', () => {
    it('gives the seed reward weights of 0.25 each', () => {
      assert.deepEqual(defaultConfig().rewardWeights, {
        compile: 0.25,
        tests: 0.25,
        errors: 0.25,
        human: 0.25,
      });
    });

    it('gives the seed prompt bandit: epsilon 0.1 over default, detailed and concise', () => {
      const { promptBandit } = defaultConfig();
      assert.equal(promptBandit.epsilon, 0.1);
      assert.deepEqual(promptBandit.variants, ['default', 'detailed', 'concise']);
    });

    it('gives the seed model router: epsilon 0.1 and a cost cap of 0.002', () => {
      const { modelRouter } = defaultConfig();
      assert.equal(modelRouter.epsilon, 0.1);
      assert.equal(modelRouter.maxCostPerToken, 0.002);
    });

    it('gives the seed auto-export thresholds', () => {
      assert.deepEqual(defaultConfig().autoExport, {
        enabled: true,
        minRuns: 100,
        minReward: 0.7,
        maxExamples: 1000,
      });
    });

    it('gives the seed auto-train settings', () => {
      const { autoTrain } = defaultConfig();
      assert.equal(autoTrain.enabled, true);
      assert.equal(autoTrain.minExamples, 500);
      assert.equal(autoTrain.baseModel, 'qwen2.5-coder:7b');
      assert.equal(autoTrain.loraRank, 16);
      assert.equal(autoTrain.epochs, 3);
      assert.equal(autoTrain.batchSize, 2);
      assert.equal(autoTrain.learningRate, 2e-4);
    });

    it('gives the seed auto-deploy settings', () => {
      assert.deepEqual(defaultConfig().autoDeploy, {
        enabled: true,
        modelNamePrefix: 'my-coder-tuned',
        temperature: 0.2,
        topP: 0.9,
        topK: 40,
        // ours: the deploy gate, the deploy path (by Ollama's version) and a merged model's quantisation
        requireImprovement: true,
        method: 'auto',
        quantize: 'q8_0',
      });
    });

    it('gives the seed drift detection settings', () => {
      assert.deepEqual(defaultConfig().driftDetection, {
        enabled: true,
        minPerformanceDrop: 0.05,
        evaluationRuns: 20,
        // ours: a sequential test that does not roll back on noise, and how long it may watch
        method: 'sprt',
        maxEvaluationRuns: 200,
      });
    });

    it('is enabled, with web knowledge off', () => {
      const config = defaultConfig();
      assert.equal(config.enabled, true);
      assert.equal(config.webKnowledge.enabled, false);
    });
  });

  describe('readConfigFile', () => {
    it('gives the defaults when the file is missing', () => {
      assert.deepEqual(readConfigFile(path.join(dir, 'no-such-file.json')), defaultConfig());
    });

    it('merges a partial section over the defaults, keeping the keys it does not name', () => {
      fs.writeFileSync(file, JSON.stringify({ autoExport: { minRuns: 5 } }));

      const config = readConfigFile(file);

      const defaults = defaultConfig();
      assert.deepEqual(config.autoExport, { ...defaults.autoExport, minRuns: 5 });
      assert.deepEqual({ ...config, autoExport: defaults.autoExport }, defaults);
    });

    it("parses the seed's example config file", () => {
      fs.writeFileSync(file, SEED_EXAMPLE);

      const config = readConfigFile(file);

      assert.equal(config.autoExport.minRuns, 100);
      assert.equal(config.autoTrain.minExamples, 500);
      assert.equal(config.autoDeploy.modelNamePrefix, 'my-coder-tuned');
      assert.equal(config.autoTrain.batchSize, 2, 'keys the example leaves out take their defaults');
    });

    it('reports invalid JSON as a ConfigError with the line and column of the fault', () => {
      // Line 3 starts a property without a comma after line 2's.
      const error = configErrorFor('{\n  "enabled": true\n  "autoExport": {}\n}\n');

      const issue = error.issues[0]!;
      assert.equal(issue.line, 3);
      assert.equal(issue.column, 3);
      assert.match(issue.reason, /JSON syntax error/);
      assert.match(error.message, /line 3, column 3/);
    });

    it('names the key and line of an out-of-range value', () => {
      const error = configErrorFor('{\n  "autoExport": {\n    "minRuns": 5,\n    "minReward": 1.5\n  }\n}\n');

      const issue = error.issues.find((i) => i.key === 'autoExport.minReward');
      assert.ok(issue, `issues: ${JSON.stringify(error.issues)}`);
      assert.equal(issue.line, 4);
      assert.match(error.message, /autoExport\.minReward \(line 4/);
    });

    it('reports an unknown key such as a misspelt section name', () => {
      const error = configErrorFor('{\n  "autoExprot": { "minRuns": 5 }\n}\n');

      const issue = error.issues.find((i) => i.key === 'autoExprot');
      assert.ok(issue, `issues: ${JSON.stringify(error.issues)}`);
      assert.match(issue.reason, /unknown key/);
      assert.equal(issue.line, 2);
    });

    it('gives each issue its path as segments, so that a key holding a dot is one key', () => {
      const error = configErrorFor('{\n  "auto.export": 1,\n  "autoExport": { "minReward": 2 }\n}\n');

      const unknown = error.issues.find((i) => i.key === 'auto.export');
      assert.deepEqual(unknown?.path, ['auto.export'], JSON.stringify(error.issues));
      const invalid = error.issues.find((i) => i.key === 'autoExport.minReward');
      assert.deepEqual(invalid?.path, ['autoExport', 'minReward']);
    });

    it('refuses the gateway settings that choose where requests and the key go, naming each and where to set it', () => {
      // Before, a cloned repository's config chose the upstream and which environment variable's secret it got.
      const error = configErrorFor(
        JSON.stringify({
          gateway: {
            port: 39998,
            openaiBaseUrl: 'http://127.0.0.1:39999/v1',
            apiKeyEnv: 'GITHUB_TOKEN',
            bindAddress: '0.0.0.0',
            allowedHosts: ['evil.example'],
            allowedOrigins: ['https://evil.example'],
          },
        }),
      );
      const where: Record<string, RegExp> = {
        openaiBaseUrl:
          /agentLearning\.gateway\.openaiBaseUrl.*--openai-base-url or AGENT_LEARNING_UPSTREAM_URL/,
        apiKeyEnv: /Set Gateway Upstream API Key.*AGENT_LEARNING_UPSTREAM_API_KEY/,
        bindAddress: /agentLearning\.gateway\.bindAddress.*--bind/,
        allowedHosts: /agentLearning\.gateway\.allowedHosts.*--allow-host/,
        allowedOrigins: /agentLearning\.gateway\.allowedOrigins.*--allow-origin/,
      };
      for (const [key, text] of Object.entries(where)) {
        const issue = error.issues.find((i) => i.key === `gateway.${key}`);
        assert.ok(issue, `${key}: issues ${JSON.stringify(error.issues)}`);
        assert.match(issue.reason, /is not read from the workspace's config/);
        assert.match(issue.reason, text);
      }
      assert.ok(!error.issues.some((i) => i.key === 'gateway.port'), 'the port stays a workspace setting');
    });

    it('refuses reward weights so large that their sum is no longer a number, naming the key', () => {
      // 1e308 passed before: the weights' sum overflowed to Infinity, every reward was NaN and no run was kept.
      const error = configErrorFor(JSON.stringify({ rewardWeights: { compile: 1e308, tests: 1e308 } }));

      assert.deepEqual(
        error.issues.map((i) => i.key),
        ['rewardWeights.compile', 'rewardWeights.tests'],
      );
      assert.match(error.message, /rewardWeights\.compile \(line 1, column \d+\): .*1000/);
      assert.equal(parseConfig({ rewardWeights: { compile: 1000 } }).rewardWeights.compile, 1000);
    });

    it('bounds the text a run keeps at 256 KiB by default, configurable from 1 KiB to 64 MiB', () => {
      assert.equal(defaultConfig().storage.maxTextBytes, 262_144);
      assert.equal(parseConfig({ storage: { maxTextBytes: 4096 } }).storage.maxTextBytes, 4096);
      for (const bad of [0, 100, 2 ** 31, 1.5e4 + 0.5]) {
        const error = configErrorFor(JSON.stringify({ storage: { maxTextBytes: bad } }));
        assert.deepEqual(
          error.issues.map((i) => i.key),
          ['storage.maxTextBytes'],
          String(bad),
        );
      }
    });

    it('rejects a base model containing shell metacharacters', () => {
      const error = configErrorFor(JSON.stringify({ autoTrain: { baseModel: 'qwen; rm -rf /' } }));

      assert.deepEqual(
        error.issues.map((i) => i.key),
        ['autoTrain.baseModel'],
      );
    });

    it('rejects a model name prefix with spaces or upper case', () => {
      for (const prefix of ['my coder', 'My-Coder']) {
        const error = configErrorFor(JSON.stringify({ autoDeploy: { modelNamePrefix: prefix } }));

        assert.deepEqual(
          error.issues.map((i) => i.key),
          ['autoDeploy.modelNamePrefix'],
          prefix,
        );
      }
    });
  });

  describe('parseConfig', () => {
    it('throws a ConfigError naming the key for an invalid object', () => {
      assert.throws(
        () => parseConfig({ promptBandit: { epsilon: -0.1 } }),
        (err: unknown) =>
          err instanceof ConfigError && err.issues.some((i) => i.key === 'promptBandit.epsilon'),
      );
    });
  });
});
