import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';

const ROOT = path.resolve(__dirname, '../../..');

describe("the seed's Quick Start", function () {
  this.timeout(120_000);
  let dir: string;

  before(() => execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' }));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-quickstart-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs verbatim against dist/core.js and leaves the run in the database', () => {
    // The block is copied unchanged from the seed (test/fixtures/quickstart/seed-quickstart.txt); only the
    // names it takes from its surroundings are defined here, and './learning/index.js' points at our bundle.
    const block = fs.readFileSync(path.join(ROOT, 'test/fixtures/quickstart/seed-quickstart.txt'), 'utf8');
    fs.mkdirSync(path.join(dir, 'learning'));
    fs.writeFileSync(
      path.join(dir, 'learning', 'index.js'),
      `module.exports = require(${JSON.stringify(path.join(ROOT, 'dist', 'core.js'))});\n`,
    );
    const prelude = [
      `const repoRoot = ${JSON.stringify(dir)};`,
      `const designCard = { name: 'login-form' };`,
      `const query = 'validate an email field';`,
      `const library = 'zod';`,
      `async function runYourAgent(card, prompt, model, knowledge) {`,
      `  return { input: card.name + ' with ' + prompt.id, output: 'export const ok = true;', compile: true,`,
      `           tests: { passed: 4, total: 4 }, costTokens: 321 };`,
      `}`,
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'quickstart.mjs'), `${prelude}\n${block}`);

    const out = execFileSync('node', ['quickstart.mjs'], { cwd: dir, encoding: 'utf8' });

    assert.match(out, /✅ Recorded run 1 \(reward: 1\.00\)/);
    const db = new Database(path.join(dir, '.agent', 'experience.db'), { readonly: true });
    const rows = db.prepare('SELECT task_slug, role, model_id, cost_tokens FROM runs').all();
    db.close();
    assert.equal(rows.length, 1);
    const [row] = rows as { task_slug: string; role: string; model_id: string; cost_tokens: number }[];
    assert.equal(row!.task_slug, 'login-form');
    assert.equal(row!.role, 'coder');
    assert.equal(row!.cost_tokens, 321);
    // The router chose among the default variants that serve "medium" within the cap.
    assert.ok(['qwen2.5-coder:7b', 'qwen2.5-coder:32b'].includes(row!.model_id), row!.model_id);
    assert.deepEqual(
      fs.readdirSync(path.join(dir, '.agent', 'inbox')),
      [],
      'close() saved and drained the journal',
    );
  });
});
