// The files users edit under `.agent/` (learning-config.json, prompt_variants.json, model_variants.json): their last
// valid values, and whether any changed on disk since this process last read or wrote it.

import * as fs from 'node:fs';
import { ConfigError } from '../errors';
import { configFile, configFiles, modelVariantsFile, promptVariantsFile } from './agentDir';
import { defaultConfig, readConfigFile, type LearningConfig } from './config';
import {
  mergePrompts,
  readModelVariants,
  readPromptVariants,
  DEFAULT_MODELS,
  type ModelVariant,
  type PromptVariant,
} from './variants';

export interface ConfigFilesOptions {
  log: (line: string) => void;
  /** A file turned invalid, or invalid in a new way; the last good values stay in force. */
  onProblem: (error: ConfigError) => void;
  /** The files changed on disk and were read again (not told for `reload()`, which the caller asked for). */
  onChange: () => void;
}

export class ConfigFiles {
  private current: LearningConfig = defaultConfig();
  private currentError: ConfigError | undefined;
  /**
   * Each file's stamp (mtime and size) as this process last read or wrote it, kept per file: a mirror write takes
   * in only its own file's new stamp, never an edit of another file made meanwhile (commit 51ebefc).
   */
  private readonly stamps = new Map<string, string>();
  private checkedAt = 0;
  private prompts: PromptVariant[] = [];
  private userPrompts: { id: string; text?: string }[] = [];
  private models: ModelVariant[] = DEFAULT_MODELS;
  private promptsOk = true;
  private modelsOk = true;
  private stats: { prompt?: unknown; model?: unknown } = {};

  /** Reads the files at once. */
  constructor(
    private readonly agentDir: string,
    private readonly options: ConfigFilesOptions,
  ) {
    this.load();
  }

  /** The configuration in force: the last valid one. */
  get config(): LearningConfig {
    return this.current;
  }

  /** What is wrong with the files as they are now, if anything. */
  get error(): ConfigError | undefined {
    return this.currentError;
  }

  /** The active prompts: the config's built-in ids plus those prompt_variants.json adds. */
  get promptVariants(): PromptVariant[] {
    return this.prompts;
  }

  /** The `variants` the user wrote in prompt_variants.json, kept as written when the file is rewritten. */
  get userPromptVariants(): { id: string; text?: string }[] {
    return this.userPrompts;
  }

  /** The router's models; the automation adds and withdraws tuned ones. */
  get modelVariants(): ModelVariant[] {
    return this.models;
  }

  set modelVariants(models: ModelVariant[]) {
    this.models = models;
  }

  /** Whether the file read as valid last time: an invalid one (a half-finished edit) is never overwritten. */
  get promptFileOk(): boolean {
    return this.promptsOk;
  }

  get modelFileOk(): boolean {
    return this.modelsOk;
  }

  /** The bandit statistics the variants files hold, as read (unchecked): they stand in until the store opens. */
  get fileStats(): { prompt?: unknown; model?: unknown } {
    return this.stats;
  }

  /** Takes in a file's stamp as it is now: one this process has just read or written itself. */
  restamp(file: string): void {
    this.stamps.set(file, fileStamp(file));
  }

  /** Looks for edits at most once a second: callers ask on every selection. */
  maybeReload(): void {
    // Wall-clock time, not the injected clock: this paces file checks and is never recorded.
    const t = Date.now();
    if (t - this.checkedAt < 1000) return;
    this.checkedAt = t;
    this.reloadIfChanged();
  }

  /** Re-reads the files if they changed since this process last read or wrote them, and tells `onChange`. */
  reloadIfChanged(): boolean {
    if (!configFiles(this.agentDir).some((f) => fileStamp(f) !== this.stamps.get(f))) return false;
    this.load();
    this.options.onChange();
    return true;
  }

  /** Re-reads the files; an invalid file is reported and the last good values stay. */
  reload(): ConfigError | undefined {
    this.load();
    return this.currentError;
  }

  private load(): void {
    // Stamped before reading: an edit made while the files are read is seen as a change next time.
    for (const f of configFiles(this.agentDir)) this.restamp(f);
    this.checkedAt = Date.now();
    const errors: ConfigError[] = [];
    try {
      this.current = readConfigFile(configFile(this.agentDir));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err);
    }
    try {
      const promptFile = readPromptVariants(promptVariantsFile(this.agentDir));
      this.promptsOk = true;
      this.userPrompts = promptFile?.variants ?? [];
      this.stats.prompt = promptFile?.stats;
      this.prompts = mergePrompts(this.current.promptBandit.variants, promptFile?.variants);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.promptsOk = false;
      errors.push(err);
      if (this.prompts.length === 0) this.prompts = mergePrompts(this.current.promptBandit.variants, []);
    }
    try {
      const modelFile = readModelVariants(modelVariantsFile(this.agentDir));
      this.modelsOk = true;
      this.stats.model = modelFile?.stats;
      this.models = modelFile?.variants ?? DEFAULT_MODELS;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.modelsOk = false;
      errors.push(err);
    }
    const previous = this.currentError?.message;
    this.currentError =
      errors.length <= 1
        ? errors[0]
        : new ConfigError(
            errors.map((e) => e.file).join(', '),
            errors.flatMap((e) => e.issues.map((i) => ({ file: e.file, ...i }))),
          );
    if (this.currentError && this.currentError.message !== previous) {
      this.options.log(`❌ ${this.currentError.message}`);
      this.options.onProblem(this.currentError);
    }
  }
}

function fileStamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return '-';
  }
}
