import assert from 'node:assert/strict';
import { EventLog, type EventData } from '../../../../src/core/store/eventLog';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';

const deploy = (model: string, key = 'coder'): EventData<'deploy'> => ({
  key,
  role: 'coder',
  model,
  method: 'merged',
  base: 'qwen2.5-coder:7b',
  baseDigest: 'sha256:base',
  deployPk: 7,
  backupBaseDigest: null,
  ollamaVersion: '0.34.4',
  evalLossBefore: 1.5,
  evalLossAfter: 1.2,
});

describe('EventLog', () => {
  let store: Store;
  let changes: number;
  let log: EventLog;

  beforeEach(async () => {
    const opened = Store.open(await loadSqlJs(), undefined);
    assert.ok(opened instanceof Store);
    store = opened;
    changes = 0;
    log = new EventLog(
      () => store,
      () => changes++,
    );
  });

  afterEach(() => store.close());

  it('reads an event back with its data typed by its kind, and tells the store it changed', () => {
    log.add(1000, 'deploy', 'coder', 'Deployed my-coder', deploy('my-coder'));
    const event = log.last('deploy', 'coder');
    assert.equal(event?.data.model, 'my-coder');
    assert.equal(event?.data.method, 'merged');
    assert.equal(event?.at, 1000);
    assert.equal(changes, 1);
  });

  it("asks the database for a role's latest event once, until an event is added or the database replaced", async () => {
    let asked = 0;
    const lastEvent = store.lastEvent.bind(store);
    store.lastEvent = (kind, role) => (asked++, lastEvent(kind, role));
    log.add(1000, 'deploy', 'coder', 'Deployed a', deploy('a'));
    for (let i = 0; i < 5; i++) assert.equal(log.last('deploy', 'coder')?.data.model, 'a');
    assert.equal(log.last('export', 'coder'), undefined);
    assert.equal(log.last('export', 'coder'), undefined);
    assert.equal(asked, 2, 'once per kind and role');

    log.add(2000, 'deploy', 'coder', 'Deployed b', deploy('b'));
    assert.equal(log.last('deploy', 'coder')?.data.model, 'b');

    // A reloaded snapshot: another database, with another history.
    const other = Store.open(await loadSqlJs(), undefined);
    assert.ok(other instanceof Store);
    other.addEvent(3000, 'deploy', 'coder', 'Deployed c', deploy('c'));
    const first = store;
    store = other;
    try {
      assert.equal(log.last('deploy', 'coder')?.data.model, 'c');
    } finally {
      first.close();
    }
  });

  it('refuses data that does not fit its kind, and writes nothing', () => {
    const bad = { ...deploy('my-coder'), method: 'ADAPTER' } as unknown as EventData<'deploy'>;
    assert.throws(() => log.add(1000, 'deploy', 'coder', 'Deployed', bad), /method/);
    assert.equal(log.recent(10).length, 0);
    assert.equal(changes, 0);
  });

  it("finds the latest event of one adapter among the role's others", () => {
    log.add(1, 'deploy', 'coder', 'first', deploy('coder-large-1', 'coder-large'));
    log.add(2, 'deploy', 'coder', 'role', deploy('coder-1', 'coder'));
    log.add(3, 'deploy', 'coder', 'second', deploy('coder-large-2', 'coder-large'));
    assert.equal(log.last('deploy', 'coder', 'coder-large')?.data.model, 'coder-large-2');
    assert.equal(log.last('deploy', 'coder', 'coder')?.data.model, 'coder-1');
    assert.equal(log.last('deploy', 'coder', 'coder-small'), undefined);
    assert.equal(log.last('deploy', 'coder')?.data.model, 'coder-large-2');
  });

  it('takes a row it cannot read (another version wrote it) as absent, not an older one in its place', () => {
    log.add(1, 'deploy', 'coder', 'older', deploy('coder-1'));
    // As a version with another deploy record would have written it: no digest.
    store.addEvent(2, 'deploy', 'coder', 'newer', { key: 'coder', model: 'coder-2' });
    assert.equal(log.last('deploy', 'coder', 'coder'), undefined);
    assert.equal(log.last('deploy', 'coder'), undefined);
    // The timeline still shows it.
    assert.deepEqual(
      log.recent(10).map((e) => e.message),
      ['newer', 'older'],
    );
  });

  it("keeps kinds and roles apart: an export's watermark is its role's own", () => {
    const data = (watermarkPk: number): EventData<'export'> => ({
      count: 3,
      file: '.agent/sft/x_sft.jsonl',
      watermarkPk,
      minReward: 0.8,
      duplicatesSkipped: 0,
      secretsRedacted: 0,
    });
    log.add(1, 'export', 'coder', 'coder', data(10));
    log.add(2, 'export', 'fixer', 'fixer', data(20));
    log.add(3, 'export-tier', 'coder', 'tier', { ...data(30), tier: 'large' });
    assert.equal(log.last('export', 'coder')?.data.watermarkPk, 10);
    assert.equal(log.last('export', 'fixer')?.data.watermarkPk, 20);
    assert.equal(log.last('export-tier', 'coder')?.data.tier, 'large');
  });
});
