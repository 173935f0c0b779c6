import assert from 'node:assert/strict';
import { LearningError, type ConfigError } from '../../../src/core/errors';
import { agentDirOf } from '../../../src/core/workspace/agentDir';
import { ConfigFiles } from '../../../src/core/workspace/configFiles';
import { configProblems, notifyProblem } from '../../../src/extension/configProblems';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

describe('config problems', () => {
  let ws: string;
  let reported: ConfigError[];
  const open = (ws: string) =>
    new ConfigFiles(agentDirOf(ws), {
      log: () => {},
      onProblem: (e) => reported.push(e),
      onChange: () => {},
    });

  beforeEach(() => {
    ws = makeWorkspace();
    reported = [];
  });
  afterEach(() => removeWorkspace(ws));

  it('puts a half-typed edit on its key in the file, and does not notify while the file is open', () => {
    const file = writeAgentFile(
      ws,
      'learning-config.json',
      '{\n  "autoExport": {\n    "minRuns": "1"\n  }\n}\n',
    );
    open(ws);
    const [error] = reported;
    assert.ok(error, 'the invalid file is reported');
    assert.deepEqual(
      [...configProblems(error)],
      [
        [
          file,
          [
            {
              line: 2,
              column: 15,
              message: `autoExport.minRuns: ${error.issues[0]!.reason}. The last valid settings stay in force.`,
            },
          ],
        ],
      ],
    );
    assert.equal(notifyProblem(error, new Set([file])), false, 'the user editing it sees it in place');
    assert.equal(notifyProblem(error, new Set()), true, 'changed from outside an editor: notified');
  });

  it('splits an error over several files by the file each issue is in', () => {
    const config = writeAgentFile(ws, 'learning-config.json', '{\n  "enabled": "yes"\n}\n');
    const prompts = writeAgentFile(ws, 'prompt_variants.json', '{ "variants": [');
    open(ws);
    const problems = configProblems(reported[0]);
    assert.deepEqual([...problems.keys()].sort(), [config, prompts].sort());
    assert.match(problems.get(config)![0]!.message, /^enabled: /);
    assert.equal(problems.get(config)![0]!.line, 1);
    assert.match(problems.get(prompts)![0]!.message, /JSON syntax error/);
    assert.equal(notifyProblem(reported[0]!, new Set([prompts])), false, 'one of its files is being edited');
  });

  it('has no problems for valid files, and still notifies other problems', () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 5 } });
    const files = open(ws);
    assert.equal(files.error, undefined);
    assert.equal(configProblems(files.error).size, 0);
    assert.equal(
      notifyProblem(new LearningError('experience.db was corrupt and set aside'), new Set()),
      true,
    );
  });
});
