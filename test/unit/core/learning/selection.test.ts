import assert from 'node:assert/strict';
import { NoEligibleModelError } from '../../../../src/core/errors';
import { Selector, type SelectorOptions } from '../../../../src/core/learning/selection';
import { toRunRecord } from '../../../../src/core/learning/runResult';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';
import { defaultConfig, parseConfig } from '../../../../src/core/workspace/config';
import { mergePrompts, type ModelVariant } from '../../../../src/core/workspace/variants';
import { mulberry32 } from '../../../support/random';

const MODEL_VARIANTS: ModelVariant[] = [
  { id: 'cheap', costPer1kTokens: 0.0005, tiers: ['small', 'medium'] },
  { id: 'pricey', costPer1kTokens: 0.01, tiers: ['small', 'medium', 'large'] },
];

describe('Selector', () => {
  let store: Store;
  let runs: number;

  beforeEach(async () => {
    const opened = Store.open(await loadSqlJs(), undefined);
    assert.ok(opened instanceof Store);
    store = opened;
    runs = 0;
  });

  afterEach(() => store.close());

  function selector(files: Partial<SelectorOptions['files']> = {}, storeOpen = true): Selector {
    const config = files.config ?? defaultConfig();
    return new Selector({
      random: mulberry32(1),
      files: {
        config,
        promptVariants: mergePrompts(config.promptBandit.variants, []),
        modelVariants: MODEL_VARIANTS,
        fileStats: {},
        ...files,
      },
      store: () => (storeOpen ? store : undefined),
    });
  }

  function record(modelId: string, promptId: string, reward: number, role = 'coder'): void {
    runs++;
    const ids = { id: `r${runs}`, createdAt: runs, taskSlug: 't', role, modelId, promptId };
    store.insertRun({ ...toRunRecord(ids, { input: `i${runs}`, output: 'o' }), reward });
  }

  describe('selectModel', () => {
    it('never returns a model above the cost cap or outside the tier, even when it scores better', () => {
      for (let i = 0; i < 10; i++) {
        record('pricey', 'default', 1);
        record('cheap', 'default', 0);
      }
      const models = selector();

      for (let i = 0; i < 100; i++) {
        assert.equal(models.selectModel('small', 0.002, undefined).id, 'cheap');
        assert.equal(
          models.selectModel('medium', undefined, undefined).id,
          'cheap',
          'the default cap is modelRouter.maxCostPerToken',
        );
        assert.equal(models.selectModel('large', 0.02, undefined).id, 'pricey', 'cheap does not serve large');
      }
    });

    it('chooses among every model that fits when the cap allows them all', () => {
      const models = selector();
      const seen = new Set<string>();

      for (let i = 0; i < 50; i++) seen.add(models.selectModel('small', 0.02, undefined).id);

      assert.deepEqual([...seen].sort(), ['cheap', 'pricey']);
    });

    it('throws NoEligibleModelError when no model fits the tier and the cap', () => {
      const models = selector();

      assert.throws(() => models.selectModel('large', 0.002, undefined), NoEligibleModelError);
      assert.throws(() => models.selectModel('small', 0.0001, undefined), NoEligibleModelError);
    });

    it('serves a tuned model only to the roles it was trained for (coder when no role is given)', () => {
      const tuned: ModelVariant = { id: 'my-fixer', costPer1kTokens: 0, tiers: ['large'], roles: ['fixer'] };
      const models = selector({ modelVariants: [...MODEL_VARIANTS, tuned] });

      assert.equal(models.selectModel('large', 0.002, 'fixer').id, 'my-fixer');
      assert.throws(() => models.selectModel('large', 0.002, undefined), NoEligibleModelError);
    });

    it('gives a model under evaluation its role’s runs while it is eligible, and the bandit the rest', () => {
      for (let i = 0; i < 20; i++) record('cheap', 'default', 1);
      const models = selector();

      models.setEvaluating('coder', undefined, 'pricey');

      const chosen = models.selectModel('medium', 0.02, 'coder');
      assert.deepEqual([chosen.id, chosen.reason, chosen.count], ['pricey', 'evaluating', 0]);
      assert.equal(
        models.selectModel('medium', 0.002, 'coder').id,
        'cheap',
        'above the cap it is not eligible',
      );
      assert.notEqual(models.selectModel('medium', 0.02, 'fixer').reason, 'evaluating');

      models.setEvaluating('coder', undefined, undefined);
      assert.notEqual(models.selectModel('medium', 0.02, 'coder').reason, 'evaluating');
    });
  });

  describe('selectPrompt', () => {
    it('judges each prompt by the store’s rewards, for the role asked', () => {
      const config = parseConfig({ promptBandit: { algorithm: 'epsilon-greedy', epsilon: 0 } });
      for (let i = 0; i < 10; i++) {
        for (const role of ['coder', 'fixer']) record('m', 'default', 0.25, role);
        record('m', 'concise', 1, 'fixer');
        record('m', 'concise', 0, 'coder');
        record('m', 'detailed', 0.5, 'coder');
        record('m', 'detailed', 0.5, 'fixer');
      }
      const prompts = selector({ config });

      const forFixer = prompts.selectPrompt('fixer');
      const forCoder = prompts.selectPrompt('coder');

      assert.deepEqual([forFixer.id, forFixer.count, forFixer.meanReward], ['concise', 10, 1]);
      assert.deepEqual([forCoder.id, forCoder.reason], ['detailed', 'exploit']);
      assert.equal(prompts.preferredPrompt(), 'detailed', 'over all roles 0.5 ties 0.5: the first listed');
    });

    it('goes by the variants files’ statistics and says warming-up until the store is open', () => {
      const config = parseConfig({ promptBandit: { algorithm: 'epsilon-greedy', epsilon: 0 } });
      const stats = [
        { id: 'default', n: 2, meanReward: 0.5 },
        { id: 'detailed', n: 3, meanReward: 0.25 },
        { id: 'concise', n: 4, meanReward: 0.75 },
        { id: 'malformed' },
      ];
      const prompts = selector({ config, fileStats: { prompt: { '*': stats } } }, false);

      const chosen = prompts.selectPrompt(undefined);

      assert.deepEqual([chosen.id, chosen.reason, chosen.count], ['concise', 'warming-up', 4]);
    });
  });
});
