// Types of simulator.mjs, for the TypeScript tests that drive it.

export type Tier = 'small' | 'medium' | 'large';

export type Distribution =
  { bernoulli: number } | { beta: { mean: number; concentration: number } | { a: number; b: number } };

export interface ScenarioArm {
  id: string;
  reward: Distribution | Partial<Record<Tier, Distribution>>;
  costPer1kTokens?: number;
  tokensPerRun?: number;
  tiers?: Tier[];
}

export interface ScenarioEvent {
  atRun: number;
  addArm?: ScenarioArm;
  arm?: string;
  reward?: ScenarioArm['reward'];
}

export interface Scenario {
  id: string;
  title: string;
  kind: 'prompt' | 'router';
  runs: number;
  arms: ScenarioArm[];
  cap?: number;
  tiers?: Partial<Record<Tier, number>>;
  events?: ScenarioEvent[];
  feedback?: { fraction: number; minDelay: number; maxDelay: number };
  standard?: boolean;
  note?: string;
}

export interface LearnerDef {
  id: string;
  label?: string;
  reference?: 'oracle' | 'uniform';
  seedBaseline?: boolean;
  promptBandit?: Record<string, unknown>;
  modelRouter?: Record<string, unknown>;
}

export interface Context {
  step: number;
  tier: Tier | undefined;
  cap: number;
}

export interface SimRunResult {
  input: string;
  output: string;
  compile?: boolean;
  tests?: { passed: number; total: number };
  complexity?: Tier;
  costTokens?: number;
}

export interface Sample {
  result: SimRunResult;
  verdict: 'accept' | 'reject' | undefined;
  delay: number;
}

export interface VisibleArm {
  id: string;
  costPer1kTokens?: number;
  tiers?: Tier[];
}

export interface Learner {
  id: string;
  start(
    arms: VisibleArm[],
    tools: { kind: Scenario['kind']; random: () => number; env: Environment },
  ): unknown;
  choose(ctx: Context): string | Promise<string>;
  observe(ctx: Context, id: string, result: SimRunResult): unknown;
  feedback(runId: string, verdict: 'accept' | 'reject'): unknown;
  armsChanged(arms: VisibleArm[]): unknown;
  stop(): unknown;
}

/** The part of dist/core.js (or src/core) the simulator uses. */
export interface Core {
  LearningPipeline: { open(dir: string, options: object): Promise<unknown> };
  defaultConfig(): { promptBandit: object; modelRouter: object };
}

export interface SeedSums {
  runs: number;
  mu: number;
  muUniform: number;
  muBest: number;
  muCheap: number;
  cost: number;
  costBest: number;
  costCheap: number;
}

export interface EventOutcome {
  atRun: number;
  label: string;
  bestChanged: boolean;
  recovery: number | null;
  censored: boolean;
  regretAfter: number;
  bestShareAfter: number;
  addedArm?: string;
  shareAfter?: number;
  shareFinal?: number;
}

export interface EpisodeResult {
  scenario: string;
  learner: string;
  seed: number;
  runs: number;
  regretAt: Record<number, number>;
  curve: number[];
  curveEvery: number;
  bestShare: number;
  first: SeedSums;
  all: SeedSums;
  violations: number;
  events: EventOutcome[];
}

export const TIERS: Tier[];
export const CHECKPOINTS: number[];
export const RECOVERY_WINDOW: number;

export function loadScenarios(file?: string): {
  scenarios: Scenario[];
  learners: LearnerDef[];
  offValues: Record<string, unknown>;
};
export function mulberry32(seed: number): () => number;
export function deriveSeed(seed: number, ...parts: string[]): number;
export function expectedReward(dist: Distribution): number;
export function validateScenario(s: unknown): void;

export class Environment {
  constructor(scenario: Scenario, seed: number);
  readonly kind: Scenario['kind'];
  advance(step: number): ScenarioEvent[];
  visibleArms(): VisibleArm[];
  context(step: number): Context;
  eligible(ctx: Context): string[];
  expected(id: string, ctx: Context): number;
  costPerRun(id: string): number;
  best(ctx: Context): { id: string; mu: number; cost: number };
  cheapest(ctx: Context): { id: string; mu: number; cost: number };
  sample(id: string, ctx: Context): Sample;
}

export function oracleLearner(): Learner;
export function uniformLearner(): Learner;
export function benchTempRoot(): string;
export function resolveLearner(
  core: Core,
  def: LearnerDef,
  offValues?: Record<string, unknown>,
): { def: LearnerDef; missing: string[] };
export function learnerApplies(def: LearnerDef, s: Scenario): boolean;
export function pipelineLearner(core: Core, def: LearnerDef, options?: { tempRoot?: string }): Learner;
export function createLearner(core: Core, def: LearnerDef, options?: { tempRoot?: string }): Learner;
export function runEpisode(args: {
  scenario: Scenario;
  learner: Learner;
  seed: number;
  runs?: number;
}): Promise<EpisodeResult>;
