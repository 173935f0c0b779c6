// Errors a user or an agent can act on: each carries what is wrong (key, path, field) and says what to do next.

export class LearningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ConfigIssue {
  /** Dotted key path, e.g. `autoExport.minRuns`; empty for the file as a whole. */
  key: string;
  /** The same path as segments, where known: a key may itself hold a dot (`"my.key"`, a typo to remove). */
  path?: string[];
  reason: string;
  /** The file it is in, where an error names several; else the error's own. */
  file?: string;
  /** 1-based line and column in the file, when known. */
  line?: number;
  column?: number;
}

/** The config file (or a variants file) is not valid; the last good configuration stays in force. */
export class ConfigError extends LearningError {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `Invalid ${file}: ` +
        issues
          .map(
            (i) =>
              `${i.key || '(file)'}${i.line ? ` (line ${i.line}, column ${i.column ?? 1})` : ''}: ${i.reason}`,
          )
          .join('; ') +
        '. Fix the file; the last valid settings stay in force until then.',
    );
  }
}

/** A path that should hold a file holds something else (a directory, a FIFO, a link); it was not opened. */
export class NotAFileError extends LearningError {
  constructor(
    readonly path: string,
    /** What is there, in words: "a directory", "a symbolic link", … */
    readonly kind: string,
  ) {
    super(`${path} is ${kind}, not a file; it was left as it is.`);
  }
}

/** A run result, feedback or argument from an agent failed validation; nothing was written. */
export class InvalidInputError extends LearningError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid ${field}: ${reason}`);
  }
}

/** The database file could not be read as SQLite; it was moved aside to `movedTo` and a fresh one started. */
export class CorruptDatabaseError extends LearningError {
  constructor(
    readonly path: string,
    readonly movedTo: string,
    override readonly cause: unknown,
  ) {
    super(
      `The experience database ${path} could not be opened (${describe(cause)}). ` +
        `It was kept aside as ${movedTo} and a fresh database was started; recover runs from the copy with any SQLite tool.`,
    );
  }
}

/** The database was written by a newer version of Agent Learning; it is left untouched. */
export class NewerSchemaError extends LearningError {
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `The experience database ${path} has schema version ${found}, but this version of Agent Learning understands up to ${supported}. ` +
        `Update Agent Learning; the file was not changed.`,
    );
  }
}

/**
 * Saving the database would write a file larger than it can be read back at (Node reads at most 2 GiB in one go):
 * the save is refused, the file on disk and the inbox journals (which hold every run since) are left as they are.
 */
export class DatabaseTooLargeError extends LearningError {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `Not saving ${path}: it would be ${byteSize(size)}, more than the ${byteSize(limit)} it could be read back at. ` +
        'Runs since the last save stay in .agent/inbox/. Close every window and move experience.db aside (any ' +
        'SQLite tool still reads it, and its texts stay in .agent/texts/): the next start begins a fresh database ' +
        'and takes in the inbox.',
    );
  }
}

/** A different run is already stored under this id; nothing was recorded. */
export class DuplicateRunError extends LearningError {
  constructor(readonly runId: string) {
    super(
      `A different run is already stored with id ${JSON.stringify(runId)}; this one was not recorded. ` +
        'Give each run its own id.',
    );
  }
}

/** No model variant fits the complexity tier and the cost cap. */
export class NoEligibleModelError extends LearningError {
  constructor(tier: string, maxCost: number | undefined) {
    super(
      `No model variant serves complexity "${tier}"` +
        (maxCost === undefined ? '' : ` at or below ${maxCost} USD per 1K tokens`) +
        '. Add one to .agent/model_variants.json or raise the cost cap.',
    );
  }
}

/** A PEFT adapter (or one of its files) cannot be converted to a GGUF adapter; no output was written. */
export class ConvertError extends LearningError {
  constructor(
    /** The file (or folder) that is wrong. */
    readonly file: string,
    /** What is wrong and what to do next. */
    readonly reason: string,
    /** The tensor name or config key at fault, when there is one. */
    readonly key?: string,
  ) {
    super(`Cannot convert ${file}${key === undefined ? '' : ` (${key})`}: ${reason} Nothing was written.`);
  }
}

/**
 * The deploy gate held an adapter back: its held-out loss did not improve on the base model's. A judgement the user
 * may overrule for one deploy (`force`), so callers branch on this type, not on the message.
 */
export class DeployGateError extends LearningError {
  constructor(
    /** The adapter: a role, or role-tier (`coder-large`). */
    readonly key: string,
    readonly lossBefore: number | null | undefined,
    readonly lossAfter: number | null | undefined,
    /** The trainer's reason (eval.json `gate.reason`): a fall within the held-out set's noise does not pass. */
    readonly reason?: string | null,
  ) {
    super(
      `Not deploying ${key}: its held-out loss did not improve on the base model's ` +
        `(${lossBefore?.toFixed(3)} → ${lossAfter?.toFixed(3)}${reason ? `; ${reason}` : ''}). Collect more ` +
        'data and train again, or set "autoDeploy.requireImprovement": false.',
    );
  }
}

/**
 * In an untrusted workspace, a folder under `.agent/` is a link (or lies behind one) that leads out of the workspace:
 * nothing is written through it.
 */
export class OutsideWorkspaceError extends LearningError {
  constructor(
    /** The folder that was to be written. */
    readonly path: string,
    /** The link on the way. */
    readonly link: string,
    /** Where it leads. */
    readonly target: string,
  ) {
    super(
      `Not writing to ${path}: ${link} leads to ${target}, outside the workspace, and this workspace is not ` +
        'trusted. Replace the link with a folder, or trust the workspace to follow it.',
    );
  }
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A size for messages: bytes, KiB, MiB or GiB. */
export function byteSize(bytes: number): string {
  for (const [unit, scale] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= scale) return `${(bytes / scale).toFixed(1)} ${unit}`;
  }
  return `${bytes} bytes`;
}
