import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigFiles } from '../../../../src/core/workspace/configFiles';
import { MirrorWriter, type MirrorSource } from '../../../../src/core/workspace/mirrors';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

interface Mirror {
  variants: { id: string }[];
  active?: { id: string }[];
  stats: Record<string, { id: string; n: number; meanReward: number }[]>;
}

/** A store with runs of one prompt and one model: role → [runs, reward sum]. */
function storeOf(runs: Record<string, [number, number]>): MirrorSource {
  const roles = Object.entries(runs);
  return {
    armStats: (kind, role) => {
      const picked = roles.filter(([r]) => role === undefined || r === role);
      const n = picked.reduce((t, [, [k]]) => t + k, 0);
      const rewardSum = picked.reduce((t, [, [, s]]) => t + s, 0);
      return n ? [{ arm: kind === 'prompt' ? 'detailed' : 'model-a', n, rewardSum }] : [];
    },
    runsPerRole: () => new Map(roles.map(([r, [n]]) => [r, n])),
  };
}

describe('MirrorWriter', () => {
  let ws: string;
  let agentDir: string;
  let logs: string[];
  let changes: number;

  beforeEach(() => {
    ws = makeWorkspace();
    agentDir = path.join(ws, '.agent');
    fs.mkdirSync(agentDir);
    logs = [];
    changes = 0;
  });

  afterEach(() => removeWorkspace(ws));

  function setUp(store: MirrorSource | undefined, now: () => number = () => 1000) {
    const files = new ConfigFiles(agentDir, {
      log: (line) => logs.push(line),
      onProblem: () => {},
      onChange: () => changes++,
    });
    const mirrors = new MirrorWriter({
      agentDir,
      files,
      now,
      log: (line) => logs.push(line),
      store: () => store,
      isOwner: () => true,
    });
    return { files, mirrors };
  }

  function read(name: string): Mirror {
    return JSON.parse(fs.readFileSync(path.join(agentDir, name), 'utf8')) as Mirror;
  }

  it('writes the statistics for all roles and per role into both files', () => {
    const { mirrors } = setUp(storeOf({ coder: [2, 1], fixer: [2, 2] }));

    mirrors.write();

    const prompts = read('prompt_variants.json');
    assert.deepEqual(prompts.stats['*'], [{ id: 'detailed', n: 4, meanReward: 0.75 }]);
    assert.deepEqual(prompts.stats['coder'], [{ id: 'detailed', n: 2, meanReward: 0.5 }]);
    assert.deepEqual(prompts.stats['fixer'], [{ id: 'detailed', n: 2, meanReward: 1 }]);
    assert.deepEqual(read('model_variants.json').stats['*'], [{ id: 'model-a', n: 4, meanReward: 0.75 }]);
  });

  it('writes back the variants the user added as they wrote them', () => {
    const mine = { id: 'terse', text: 'Answer in one function.' };
    writeAgentFile(ws, 'prompt_variants.json', { variants: [mine] });
    const { mirrors } = setUp(storeOf({ coder: [1, 1] }));

    mirrors.write();

    const prompts = read('prompt_variants.json');
    assert.deepEqual(prompts.variants, [mine]);
    assert.deepEqual(
      prompts.active!.map((v) => v.id),
      ['default', 'detailed', 'concise', 'terse'],
    );
  });

  it('leaves a variants file the user left invalid as it is', () => {
    const text = '{ "variants": [ }';
    const file = writeAgentFile(ws, 'prompt_variants.json', text);
    const { mirrors } = setUp(storeOf({ coder: [1, 1] }));

    mirrors.write();

    assert.equal(fs.readFileSync(file, 'utf8'), text);
    assert.ok(fs.existsSync(path.join(agentDir, 'model_variants.json')), 'the valid one is written');
  });

  it('writes nothing before the store is open', () => {
    const { mirrors } = setUp(undefined);

    mirrors.write();

    assert.deepEqual(fs.readdirSync(agentDir), []);
  });

  it('does not take its own writes for edits, but sees a config edit saved while it writes', () => {
    let editNow = false;
    // The write asks the time after it has checked the files and before it writes them.
    const { files, mirrors } = setUp(storeOf({ coder: [1, 1] }), () => {
      if (editNow) {
        editNow = false;
        writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 11 } });
      }
      return 1000;
    });
    mirrors.write();
    assert.equal(files.reloadIfChanged(), false, 'its own write is no change');

    editNow = true;
    mirrors.write();
    assert.equal(editNow, false, 'the edit was made during the write');

    assert.equal(files.reloadIfChanged(), true);
    assert.equal(files.config.autoExport.minRuns, 11);
    assert.equal(changes, 1);
  });

  it('writes model_variants.json at once when the models change', () => {
    const { files, mirrors } = setUp(storeOf({ coder: [2, 2] }));
    files.modelVariants = [{ id: 'tuned', costPer1kTokens: 0, tiers: ['small'], roles: ['coder'] }];

    mirrors.writeModels();

    const models = read('model_variants.json') as Mirror & { variants: { id: string }[] };
    assert.deepEqual(
      models.variants.map((v) => v.id),
      ['tuned'],
    );
    assert.deepEqual(models.stats, { '*': [{ id: 'model-a', n: 2, meanReward: 1 }] });
    assert.equal(files.reloadIfChanged(), false, 'its own write is no change');
  });
});
