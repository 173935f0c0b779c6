import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutsideWorkspaceError } from '../../../../src/core/errors';
import { prepareFolder } from '../../../../src/core/workspace/links';

describe('prepareFolder', () => {
  let ws: string;
  let outside: string;
  const agent = (...parts: string[]) => path.join(ws, '.agent', ...parts);

  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'al-links-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'al-links-outside-'));
    fs.mkdirSync(agent());
  });

  afterEach(() => {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('creates plain folders, and follows a link that stays inside the workspace', () => {
    prepareFolder(agent('inbox'), ws, false);
    fs.mkdirSync(path.join(ws, 'datasets'));
    fs.symlinkSync(path.join(ws, 'datasets'), agent('sft'));
    prepareFolder(agent('sft'), ws, false);

    assert.ok(fs.statSync(agent('inbox')).isDirectory());
    assert.ok(fs.statSync(agent('sft')).isDirectory());
  });

  for (const [what, plant] of [
    ['a folder that is a link out of the workspace', () => fs.symlinkSync(outside, agent('sft'))],
    ['a dangling link out of the workspace', () => fs.symlinkSync(path.join(outside, 'new'), agent('sft'))],
    [
      'a folder behind a linked .agent/',
      () => {
        fs.rmSync(agent(), { recursive: true });
        fs.mkdirSync(path.join(outside, 'sft'));
        fs.symlinkSync(outside, agent());
      },
    ],
  ] as const) {
    it(`refuses ${what} in an untrusted workspace, creating nothing`, () => {
      plant();
      const before = fs.readdirSync(outside);

      assert.throws(
        () => prepareFolder(agent('sft', 'deeper'), ws, false),
        (err: unknown) =>
          err instanceof OutsideWorkspaceError &&
          err.path === agent('sft', 'deeper') &&
          /outside the workspace, and this workspace is not trusted\. Replace the link with a folder/.test(
            err.message,
          ),
      );
      assert.deepEqual(fs.readdirSync(outside), before);
    });
  }

  it('follows a link out of the workspace on purpose when the workspace is trusted (lora/ on another disk)', () => {
    fs.symlinkSync(outside, agent('lora'));

    prepareFolder(agent('lora', 'coder'), ws, true);

    assert.ok(fs.statSync(path.join(outside, 'coder')).isDirectory());
  });

  it('takes a workspace reached through a link as inside itself', () => {
    const linkedRoot = path.join(outside, 'ws-link');
    fs.symlinkSync(ws, linkedRoot);

    prepareFolder(path.join(linkedRoot, '.agent', 'inbox'), linkedRoot, false);

    assert.ok(fs.statSync(agent('inbox')).isDirectory());
  });
});
