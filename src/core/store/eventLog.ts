// The timeline of exports, trainings, deploys and drift verdicts. Each kind's data has a zod schema: it is checked
// when an event is added and parsed when one is read back (rows outlive the code that wrote them), so no caller
// casts what an event holds.

import * as z from 'zod';
import type { LearningEvent, Store } from './store';

const count = z.number().int().min(0);
const lossOrNull = z.number().nullable();

const exportData = z.object({
  count,
  /** The dataset, relative to the workspace folder. */
  file: z.string(),
  /** The newest run the export considered: auto-export counts new runs from here. */
  watermarkPk: count,
  minReward: z.number(),
  duplicatesSkipped: count,
  secretsRedacted: count,
});

const deployData = z.object({
  key: z.string(),
  role: z.string(),
  tier: z.string().optional(),
  model: z.string(),
  method: z.enum(['adapter', 'merged']),
  /** The base model's Ollama tag and the digest it had: a rollback never restores an adapter onto other weights. */
  base: z.string(),
  baseDigest: z.string(),
  /** The newest run when the model was deployed: drift compares the runs after it with those before. */
  deployPk: count,
  /** Base digest the backup (the previous deployment) was built on; null: no backup. */
  backupBaseDigest: z.string().nullable(),
  ollamaVersion: z.string(),
  evalLossBefore: lossOrNull,
  evalLossAfter: lossOrNull,
});

const verdictData = z.object({
  key: z.string(),
  model: z.string(),
  decision: z.enum(['rollback', 'keep', 'wait']),
  baselineMean: z.number().nullable(),
  tunedMean: z.number().nullable(),
  drop: z.number().nullable(),
  runs: count,
});

/** Every kind of event there is, and what its data holds. */
export const EVENT_DATA = {
  export: exportData,
  'export-tier': exportData.extend({ tier: z.string() }),
  training: z.object({
    key: z.string(),
    tier: z.string().nullable(),
    baseModel: z.string(),
    seconds: z.number(),
    evalLossBefore: lossOrNull,
    evalLossAfter: lossOrNull,
    improved: z.boolean().nullable(),
    examples: z.number().min(0),
  }),
  'training-failed': z.object({ key: z.string() }),
  'deploy-skipped': z.object({ key: z.string() }),
  'deploy-failed': z.object({ key: z.string(), step: z.string() }),
  deploy: deployData,
  evaluated: verdictData,
  drift: verdictData,
  rollback: z.object({ key: z.string(), model: z.string(), action: z.enum(['restored', 'withdrawn']) }),
};

export type EventKind = keyof typeof EVENT_DATA;
export type EventData<K extends EventKind> = z.infer<(typeof EVENT_DATA)[K]>;
export type DeployRecord = EventData<'deploy'>;

/** An event read back through its kind's schema. */
export interface TypedEvent<K extends EventKind> {
  id: number;
  at: number;
  kind: K;
  role: string;
  message: string;
  data: EventData<K>;
}

/** A role has at most four adapters (its own and three tiers): their latest events are among its last few. */
const KEYED_LOOKBACK = 50;

export class EventLog {
  /**
   * A role's latest event of each kind (`last` without a key), as read from `latestOf`: auto-export asks for the
   * latest export at every recorded run, and the answer changes only when an event is added here (events are not
   * journalled: no other process adds one to this database) or the database is replaced (a snapshot reloaded).
   */
  private readonly latest = new Map<string, LearningEvent | undefined>();
  private latestOf: Store | undefined;

  /**
   * `store` is asked for each call (the durable store replaces its database when it reloads a snapshot); `changed`
   * is told of each event added, so it is saved with the next save.
   */
  constructor(
    private readonly store: () => Store,
    private readonly changed: (kind: EventKind) => void,
  ) {}

  add<K extends EventKind>(at: number, kind: K, role: string, message: string, data: EventData<K>): void {
    // Checked here, so what is written can always be read back.
    const checked = EVENT_DATA[kind].parse(data);
    this.store().addEvent(at, kind, role, message, checked);
    this.latest.clear();
    this.changed(kind);
  }

  /**
   * The role's latest event of this kind; with `key`, the latest whose data names that adapter (`coder-large`).
   * A row whose data does not fit its kind's schema (written by another version) counts as absent.
   */
  last<K extends EventKind>(kind: K, role: string, key?: string): TypedEvent<K> | undefined {
    const rows =
      key === undefined ? [this.lastRow(kind, role)] : this.store().eventsOf(kind, role, KEYED_LOOKBACK);
    // The newest matching row decides: one that does not parse is not skipped for an older one, which would
    // make a superseded deploy look current.
    const row = rows.find((r) => r && (key === undefined || r.data?.key === key));
    return row ? this.typed(kind, row) : undefined;
  }

  private lastRow(kind: EventKind, role: string): LearningEvent | undefined {
    const store = this.store();
    if (store !== this.latestOf) {
      this.latest.clear();
      this.latestOf = store;
    }
    const name = `${kind}\0${role}`;
    if (this.latest.has(name)) return this.latest.get(name);
    const row = store.lastEvent(kind, role);
    this.latest.set(name, row);
    return row;
  }

  /** The newest events of every kind, newest first, for the timeline (data shown, never acted on). */
  recent(limit: number): LearningEvent[] {
    return this.store().events(limit);
  }

  private typed<K extends EventKind>(kind: K, row: LearningEvent): TypedEvent<K> | undefined {
    const parsed = EVENT_DATA[kind].safeParse(row.data);
    if (!parsed.success || row.role === null) return undefined;
    return { ...row, kind, role: row.role, data: parsed.data as EventData<K> };
  }
}
