import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, parse, type ParseError } from 'jsonc-parser';
import { defaultConfig, parseConfigText, type LearningConfig } from '../../../../src/core/workspace/config';
import {
  keysSetInFile,
  readSettingsInForce,
  resetSettingEdits,
  settingsDocument,
  settingsInForce,
  type Setting,
  type SettingsInForce,
} from '../../../../src/core/workspace/settingsInForce';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

const FILE = '/ws/.agent/learning-config.json';

function setting(settings: SettingsInForce, key: string): Setting {
  const found = settings.sections.flatMap((s) => s.settings).find((s) => s.key === key);
  assert.ok(found, `no setting ${key}`);
  return found;
}

function reset(text: string, key: string): string {
  return applyEdits(text, resetSettingEdits(text, key.split('.')));
}

describe('settingsInForce', () => {
  it('merges the file over the defaults and says where each value comes from', () => {
    const text =
      '{\n  "enabled": false,\n  "autoTrain": { "epochs": 5, "baseModel": "qwen2.5-coder:7b" }\n}\n';
    const settings = settingsInForce(FILE, text, defaultConfig());
    assert.equal(settings.error, undefined);
    assert.deepEqual(
      [setting(settings, 'enabled').value, setting(settings, 'enabled').source],
      [false, 'file'],
    );
    assert.deepEqual(
      [setting(settings, 'autoTrain.epochs').value, setting(settings, 'autoTrain.epochs').defaultValue],
      [5, 3],
    );
    // Written in the file with the default's value: still the file's, so Reset applies to it.
    assert.equal(setting(settings, 'autoTrain.baseModel').source, 'file');
    const minRuns = setting(settings, 'autoExport.minRuns');
    assert.deepEqual([minRuns.value, minRuns.source, minRuns.setInFile], [100, 'default', false]);
    // Where the file sets a key, to open it there: line 3, at `"epochs"`.
    assert.deepEqual(setting(settings, 'autoTrain.epochs').at, { line: 3, column: 18 });
    assert.deepEqual(setting(settings, 'enabled').at, { line: 2, column: 3 });
  });

  it('describes every key with the schema text, its range and unit', () => {
    const settings = settingsInForce(FILE, undefined, defaultConfig());
    for (const s of settings.sections.flatMap((x) => x.settings))
      assert.ok(s.description.length > 10, `${s.key} has no description`);
    assert.match(setting(settings, 'modelRouter.maxCostPerToken').description, /USD per 1,000 tokens/);
    assert.match(setting(settings, 'editorSignals.settleMs').description, /Milliseconds \(0–60000\)/);
    assert.equal(settings.sections[0]!.name, '', 'the top-level keys come first');
    assert.ok(settings.sections.some((s) => s.name === 'autoTrain' && s.description.includes('LoRA')));
  });

  it('shows every value as its default when there is no file', () => {
    const settings = settingsInForce(FILE, undefined, defaultConfig());
    assert.equal(settings.fileExists, false);
    const all = settings.sections.flatMap((s) => s.settings);
    assert.ok(all.every((s) => s.source === 'default'));
    assert.deepEqual(
      all.filter((s) => s.value === undefined).map((s) => s.key),
      ['autoTrain.hfModel', 'autoTrain.loraDropout', 'gateway.maxCostPerToken'],
    );
  });

  it("leaves out the gateway keys a workspace may not set (they are the user's settings)", () => {
    const keys = settingsInForce(FILE, undefined, defaultConfig())
      .sections.flatMap((s) => s.settings)
      .map((s) => s.key);
    for (const userOnly of ['gateway.openaiBaseUrl', 'gateway.bindAddress', 'gateway.apiKeyEnv', '$schema'])
      assert.ok(!keys.includes(userOnly), userOnly);
    assert.ok(keys.includes('gateway.port'));
  });

  it('reports an invalid file by key and reason and shows the last valid values, not the defaults', () => {
    const lastValid: LearningConfig = parseConfigText('{"autoTrain": {"epochs": 7}}', FILE);
    const text = '{\n  "autoTrain": {\n    "epochs": 500,\n    "minExampels": 10\n  }\n}\n';
    const settings = settingsInForce(FILE, text, lastValid);
    assert.ok(settings.error);
    assert.deepEqual(
      settings.error.issues.map((i) => [i.key, i.line]),
      [
        ['autoTrain.epochs', 3],
        ['autoTrain.minExampels', 4],
      ],
    );
    const epochs = setting(settings, 'autoTrain.epochs');
    assert.deepEqual([epochs.value, epochs.source], [7, 'lastValid']);
    assert.match(epochs.issue ?? '', /100/);
  });
});

describe('readSettingsInForce', () => {
  let dir: string;

  beforeEach(() => (dir = makeWorkspace()));
  afterEach(() => removeWorkspace(dir));

  it('reads the file on disk, and gives the defaults when there is none', () => {
    const file = path.join(dir, 'learning-config.json');
    assert.equal(readSettingsInForce(file, defaultConfig()).fileExists, false);
    fs.writeFileSync(file, '{"autoExport": {"minRuns": 3}}');
    const minRuns = setting(readSettingsInForce(file, defaultConfig()), 'autoExport.minRuns');
    assert.deepEqual([minRuns.value, minRuns.source], [3, 'file']);
  });

  it('reports a file it cannot read, showing the last valid values', () => {
    const file = path.join(dir, 'learning-config.json');
    fs.mkdirSync(file);
    const lastValid = parseConfigText('{"autoExport": {"minRuns": 3}}', file);
    const settings = readSettingsInForce(file, lastValid);
    assert.match(settings.error?.issues[0]?.reason ?? '', /cannot read the file \(EISDIR/);
    const minRuns = setting(settings, 'autoExport.minRuns');
    assert.deepEqual([minRuns.value, minRuns.source], [3, 'lastValid']);
  });
});

describe('settingsDocument', () => {
  it('is JSON with comments holding exactly the values in force, each marked file or default', () => {
    const text = '{"enabled": false, "autoTrain": {"epochs": 5, "hfModel": "Qwen/Qwen2.5-Coder-7B"}}';
    const settings = settingsInForce(FILE, text, defaultConfig());
    const doc = settingsDocument(settings, '.agent/learning-config.json');
    const errors: ParseError[] = [];
    const value: unknown = parse(doc, errors, { allowTrailingComma: false });
    assert.deepEqual(errors, []);
    const expected = JSON.parse(JSON.stringify(parseConfigText(text, FILE))) as Record<string, unknown>;
    delete expected.$schema;
    assert.deepEqual(value, expected);
    const lines = doc.split('\n');
    assert.ok(lines.includes('  "enabled": false, // file'), 'the file value is marked');
    assert.ok(lines.includes('    "epochs": 5, // file'));
    assert.ok(lines.includes('    "minExamples": 500, // default'));
    assert.ok(lines.includes('    // "loraDropout": unset (default)'));
  });

  it('lists the issues of an invalid file at its top, and marks the values as the last valid ones', () => {
    const settings = settingsInForce(FILE, '{"autoTrain": {"epochs": 0}}', defaultConfig());
    const doc = settingsDocument(settings, '.agent/learning-config.json');
    assert.match(
      doc,
      /^\/\/ \.agent\/learning-config\.json is invalid; its last valid settings stay in force/m,
    );
    assert.match(doc, /^\/\/ {3}autoTrain\.epochs \(line 1\): Too small/m);
    assert.match(doc, /"epochs": 3, \/\/ last valid value; the file's value is invalid: Too small/);
    // The last valid configuration here is the defaults: the document holds them, not the file's 0.
    const expected = JSON.parse(JSON.stringify(defaultConfig())) as Record<string, unknown>;
    assert.deepEqual(parse(doc), expected);
  });
});

describe('keysSetInFile', () => {
  it("lists the file's keys, unknown and invalid ones included, but not $schema", () => {
    const text = '{"$schema": "./s.json", "enabled": true, "autoTrain": {"epochs": 500}, "typo": 1,}';
    assert.deepEqual(keysSetInFile(text), [['enabled'], ['autoTrain', 'epochs'], ['typo']]);
  });

  it('reads none from text that is not an object', () => {
    assert.deepEqual(keysSetInFile('[1, 2]'), []);
    assert.deepEqual(keysSetInFile(''), []);
  });
});

describe('resetSettingEdits', () => {
  it("removes only the key, keeping the file's indentation, key order and line ends byte for byte", () => {
    const text =
      '{\r\n\t"autoTrain": {\r\n\t\t"loraRank": 8,\r\n\t\t"epochs":   5,\r\n\t\t"minExamples": 10\r\n\t},\r\n' +
      '\t"enabled": false\r\n}\r\n';
    assert.equal(
      reset(text, 'autoTrain.epochs'),
      '{\r\n\t"autoTrain": {\r\n\t\t"loraRank": 8,\r\n\t\t"minExamples": 10\r\n\t},\r\n\t"enabled": false\r\n}\r\n',
    );
    assert.equal(
      reset(text, 'autoTrain.minExamples'),
      '{\r\n\t"autoTrain": {\r\n\t\t"loraRank": 8,\r\n\t\t"epochs":   5\r\n\t},\r\n\t"enabled": false\r\n}\r\n',
    );
    // The first key: jsonc-parser alone would cut the line break and indentation before the next one too.
    assert.equal(
      reset(text, 'autoTrain.loraRank'),
      '{\r\n\t"autoTrain": {\r\n\t\t"epochs":   5,\r\n\t\t"minExamples": 10\r\n\t},\r\n\t"enabled": false\r\n}\r\n',
    );
    assert.equal(
      reset(text, 'enabled'),
      '{\r\n\t"autoTrain": {\r\n\t\t"loraRank": 8,\r\n\t\t"epochs":   5,\r\n\t\t"minExamples": 10\r\n\t}\r\n}\r\n',
    );
  });

  it('keeps comments and blank lines around the key', () => {
    const text =
      '{\n  // tuned for the 3090\n  "autoTrain": {\n    "batchSize": 4,\n\n    "epochs": 5 // more\n  }\n}\n';
    const after = reset(text, 'autoTrain.batchSize');
    assert.match(after, /\/\/ tuned for the 3090/);
    assert.match(after, /"epochs": 5 \/\/ more/);
    assert.deepEqual(parse(after), { autoTrain: { epochs: 5 } });
  });

  it('removes a section the reset leaves empty', () => {
    const text = '{\n  "enabled": true,\n  "autoTrain": {\n    "epochs": 5\n  }\n}\n';
    const after = reset(text, 'autoTrain.epochs');
    assert.deepEqual(JSON.parse(after), { enabled: true });
    assert.equal(after, '{\n  "enabled": true\n}\n');
  });

  it('makes a file with an invalid value valid again, the other keys untouched', () => {
    const text = '{\n  "autoTrain": {\n    "epochs": 500,\n    "loraRank": 8\n  }\n}\n';
    assert.throws(() => parseConfigText(text, FILE));
    const config = parseConfigText(reset(text, 'autoTrain.epochs'), FILE);
    assert.deepEqual([config.autoTrain.epochs, config.autoTrain.loraRank], [3, 8]);
  });

  it('removes a key that holds a dot as that one key, by its path', () => {
    const text = '{\n  "auto.export": 1,\n  "auto": { "export": 2 }\n}\n';
    assert.equal(
      applyEdits(text, resetSettingEdits(text, ['auto.export'])),
      '{\n  "auto": { "export": 2 }\n}\n',
    );
  });

  it('changes nothing when the file does not set the key', () => {
    assert.deepEqual(resetSettingEdits('{"autoTrain": {"epochs": 5}}', ['autoTrain', 'loraRank']), []);
    assert.deepEqual(resetSettingEdits('{"autoTrain": {"epochs": 5}}', ['enabled']), []);
    assert.deepEqual(resetSettingEdits('not json', ['enabled']), []);
  });
});
