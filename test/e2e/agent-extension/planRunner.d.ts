// Types for planRunner.js, for the TypeScript suites that share it (the test extension itself is plain JS).
import type { Plan, PlanResult } from '../scenarios';

export interface RunPlanOptions {
  executeCommand?: (id: string, ...args: unknown[]) => PromiseLike<unknown>;
  log?: (line: string) => void;
}

export function runPlan(api: unknown, plan: Plan, options?: RunPlanOptions): Promise<PlanResult>;
