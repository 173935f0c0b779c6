import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  adapterKey,
  adapterPaths,
  agentDirOf,
  CONFIG_FILES_GLOB,
  configFile,
  configFiles,
  corruptDatabaseFile,
  databaseChecksumFile,
  databaseFile,
  inboxDir,
  knowledgeDir,
  lastExportFile,
  lockFile,
  modelVariantsFile,
  promptVariantsFile,
  sftFile,
  exportMemoFile,
  textsDir,
} from '../../../../src/core/workspace/agentDir';
import { InvalidInputError } from '../../../../src/core/errors';

// These names are a contract: users, their scripts and their .gitignore read them from the README's "Files".

const root = path.resolve('/w');
const dir = agentDirOf(root);
/** A path as the README writes it: relative to `.agent/`, with `/`. */
const rel = (p: string) => path.relative(dir, p).split(path.sep).join('/');

/** Every documented path for the role `coder` (folders end in `/`), by what names it here. */
const LAYOUT = {
  database: 'experience.db',
  checksum: 'experience.db.sum',
  lock: 'experience.db.lock',
  inbox: 'inbox/',
  texts: 'texts/',
  config: 'learning-config.json',
  promptVariants: 'prompt_variants.json',
  modelVariants: 'model_variants.json',
  sft: 'sft/coder_sft.jsonl',
  exportMemo: 'sft/coder_sft.memo',
  lastExport: 'last-export-coder.txt',
  adapterDir: 'lora/coder/',
  trained: 'lora/coder/trained/',
  training: 'lora/coder/training/',
  gguf: 'lora/coder/adapter.gguf',
  ggufBackup: 'lora/coder/adapter.backup.gguf',
  merged: 'lora/coder/merged.gguf',
  mergedBackup: 'lora/coder/merged.backup.gguf',
  launcher: 'train_coder.py',
  lastTrain: 'last-train-coder.txt',
  modelfile: 'Modelfile.coder',
  knowledge: 'knowledge/',
};

/** The README's "Files" tree as paths relative to `.agent/`, `{role}` read as `coder`. */
function readmeLayout(): string[] {
  const block = /## Files\n\n```\n\.agent\/\n([\s\S]*?)```/.exec(fs.readFileSync('README.md', 'utf8'));
  assert.ok(block?.[1], 'README.md has a "Files" section holding the .agent/ tree');
  const parents: string[] = [];
  const out: string[] = [];
  for (const line of block[1].split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+)/.exec(line);
    if (!m?.[2]) continue;
    const depth = m[1]!.length / 4;
    parents.length = depth;
    const name = m[2].replaceAll('{role}', 'coder');
    out.push(parents.join('') + name);
    if (name.endsWith('/')) parents[depth] = name;
  }
  return out;
}

describe('agentDir', () => {
  it('is .agent/ under the workspace root, made absolute', () => {
    assert.equal(dir, path.join(root, '.agent'));
    assert.equal(agentDirOf('some/folder'), path.join(process.cwd(), 'some', 'folder', '.agent'));
  });

  it('puts every file and folder where the README says', () => {
    const p = adapterPaths(dir, 'coder');
    const asFolder = (f: string) => rel(f) + '/';
    const actual = {
      database: rel(databaseFile(dir)),
      checksum: rel(databaseChecksumFile(dir)),
      lock: rel(lockFile(dir)),
      inbox: asFolder(inboxDir(dir)),
      texts: asFolder(textsDir(dir)),
      config: rel(configFile(dir)),
      promptVariants: rel(promptVariantsFile(dir)),
      modelVariants: rel(modelVariantsFile(dir)),
      sft: rel(sftFile(dir, 'coder')),
      exportMemo: rel(exportMemoFile(dir, 'coder')),
      lastExport: rel(lastExportFile(dir, 'coder')),
      adapterDir: asFolder(p.dir),
      trained: asFolder(p.trained),
      training: asFolder(p.training),
      gguf: rel(p.gguf),
      ggufBackup: rel(p.ggufBackup),
      merged: rel(p.merged),
      mergedBackup: rel(p.mergedBackup),
      launcher: rel(p.launcher),
      lastTrain: rel(p.lastTrain),
      modelfile: rel(p.modelfile),
      knowledge: asFolder(knowledgeDir(dir)),
    };
    assert.deepEqual(actual, LAYOUT);
    assert.deepEqual(readmeLayout().sort(), Object.values(LAYOUT).sort());
  });

  it("keeps an adapter's working files inside its folder, and its dataset with the other datasets", () => {
    const p = adapterPaths(dir, 'coder');
    assert.equal(p.key, 'coder');
    assert.equal(p.dataset, sftFile(dir, 'coder'));
    assert.equal(rel(p.progress), 'lora/coder/training/progress.jsonl');
    assert.equal(rel(p.mergedHf), 'lora/coder/merged-hf');
  });

  it('names a tier’s files with the key role-tier, and no tier (or an empty one) with the role alone', () => {
    const p = adapterPaths(dir, 'coder', 'large');
    assert.equal(p.key, 'coder-large');
    assert.equal(p.tier, 'large');
    assert.equal(rel(p.dataset), 'sft/coder-large_sft.jsonl');
    assert.equal(rel(p.dir), 'lora/coder-large');
    assert.equal(rel(p.modelfile), 'Modelfile.coder-large');
    assert.equal(rel(lastExportFile(dir, 'coder', 'large')), 'last-export-coder-large.txt');
    assert.equal(adapterKey('coder', ''), 'coder');
    assert.equal(adapterKey('coder'), 'coder');
  });

  it('refuses a role or tier that could name a path outside .agent/', () => {
    for (const [role, tier] of [
      ['../x', undefined],
      ['coder/../../x', undefined],
      ['', undefined],
      ['Coder', undefined],
      ['coder', '../../x'],
      ['coder', 'large/..'],
      ['coder', '.hidden'],
    ] as const) {
      assert.throws(() => adapterPaths(dir, role, tier), InvalidInputError, `${role} ${tier}`);
      assert.throws(() => sftFile(dir, role, tier), InvalidInputError);
      assert.throws(() => lastExportFile(dir, role, tier), InvalidInputError);
    }
  });

  it('moves a corrupt database aside under a name with its time, safe on every file system', () => {
    const aside = corruptDatabaseFile(dir, Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    assert.equal(rel(aside), 'experience.db.corrupt-2025-01-02T03-04-05-678Z');
  });

  it('gives watchers the config and variants files as one glob relative to the workspace root', () => {
    assert.deepEqual(configFiles(dir).map(rel), [
      'learning-config.json',
      'prompt_variants.json',
      'model_variants.json',
    ]);
    const m = /^\.agent\/\{(.*)\}$/.exec(CONFIG_FILES_GLOB);
    assert.deepEqual(m?.[1]?.split(','), configFiles(dir).map(rel));
  });
});
