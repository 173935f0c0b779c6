// Builds the typed states the webviews render (src/protocol.ts) from the pipeline's stats and insights.

import { leaderOf } from '../core/learning/stats';
import { automationPort, type LearningPipeline } from '../core/pipeline';
import {
  PROTOCOL_VERSION,
  type ArmView,
  type AutomationView,
  type BestArmView,
  type DashboardState,
  type SidebarState,
  type TrainingProgress,
} from '../protocol';

export interface ViewContext {
  workspaceName: string;
  trusted: boolean;
  ready: boolean;
}

export function sidebarState(p: LearningPipeline, ctx: ViewContext): SidebarState {
  const stats = p.getStats();
  const insights = p.getInsights(0);
  return {
    version: PROTOCOL_VERSION,
    ...ctx,
    kpis: {
      runs: stats.totals.runs,
      avgReward: stats.recentStats.avgReward,
      previousAvgReward: insights.previousAvgReward,
      avgCost: stats.recentStats.costCount > 0 ? stats.recentStats.avgCost : null,
      avgDuration: stats.recentStats.durationCount > 0 ? stats.recentStats.avgDuration : null,
    },
    roles: stats.roles.map((r) => ({
      role: r.role,
      runs: r.runs,
      highQualitySinceExport: r.highQualitySinceExport,
      exportThreshold: r.exportThreshold,
      exportedExamples: r.exportedExamples,
      trainThreshold: r.trainThreshold,
      lastExport: r.lastExport,
    })),
    bestModel: bestArm(insights.models),
    bestPrompt: bestArm(insights.prompts),
    recentRuns: stats.recentRuns.slice(0, 10),
    problems: p.problems().map((e) => e.message),
  };
}

export function dashboardState(
  p: LearningPipeline,
  ctx: ViewContext,
  training: TrainingProgress | null,
  /** Why training cannot run now (Check Setup's probe, cached by the host); null when it can or is not known. */
  trainBlocked: string | null = null,
): DashboardState {
  // The config first: reading it may pick up an edited file, and the figures below then follow it.
  const { config } = p.getConfig();
  const stats = p.getStats();
  // No per-role series from getInsights: they read every run; the history reads only those since the last push.
  const insights = p.getInsights(0);
  const history = p.getRunHistory();
  return {
    version: PROTOCOL_VERSION,
    ...ctx,
    totalRuns: stats.totals.runs,
    history: history.view(),
    models: insights.models.map((m) => ({
      ...armView(m),
      avgCostTokens: m.avgCostTokens,
      costPer1kTokens: insights.modelCosts[m.id] ?? null,
    })),
    prompts: insights.prompts.map((x) => ({ ...armView(x), preferred: x.id === insights.preferredPrompt })),
    bestModel: bestArm(insights.models),
    bestPrompt: bestArm(insights.prompts),
    automation: stats.roles.map((r) => ({
      role: r.role,
      autoExport: insights.automation.autoExport,
      autoTrain: insights.automation.autoTrain,
      autoDeploy: insights.automation.autoDeploy,
      exportProgress: { current: r.highQualitySinceExport, threshold: config.autoExport.minRuns },
      trainProgress: { current: r.exportedExamples, threshold: config.autoTrain.minExamples },
      lastExport: r.lastExport,
      trainBlocked,
      adapter: adapterState(p, r.role),
    })),
    events: stats.events.map((e) => ({
      id: e.id,
      at: e.at,
      kind: e.kind,
      role: e.role,
      message: e.message,
      run: history.positionOf(e),
    })),
    training,
  };
}

/**
 * A folder without `.agent/`: nothing recorded, and nothing opened that would create it. The pages show their
 * first-run state (how to connect an agent).
 */
export function emptySidebarState(ctx: Omit<ViewContext, 'ready'>): SidebarState {
  return {
    version: PROTOCOL_VERSION,
    ...ctx,
    ready: true,
    kpis: { runs: 0, avgReward: 0, previousAvgReward: null, avgCost: null, avgDuration: null },
    roles: [],
    bestModel: null,
    bestPrompt: null,
    recentRuns: [],
    problems: [],
  };
}

export function emptyDashboardState(ctx: Omit<ViewContext, 'ready'>): DashboardState {
  return {
    version: PROTOCOL_VERSION,
    ...ctx,
    ready: true,
    totalRuns: 0,
    history: { runs: [], at: [], roles: [], choices: { runs: [], prompts: [], models: [] } },
    models: [],
    prompts: [],
    bestModel: null,
    bestPrompt: null,
    automation: [],
    events: [],
    training: null,
  };
}

/** `trained` when the role's latest training is newer than its latest deploy: what the user still has to do. */
function adapterState(p: LearningPipeline, role: string): AutomationView['adapter'] {
  const port = automationPort(p);
  // By id, not time: two events can share a millisecond, and ids follow the order they were recorded in.
  const trained = port.lastEvent('training', role)?.id;
  const deployed = port.lastEvent('deploy', role)?.id;
  if (trained !== undefined && (deployed === undefined || trained > deployed)) return 'trained';
  return deployed === undefined ? 'none' : 'deployed';
}

function bestArm(arms: Parameters<typeof armView>[0][]): BestArmView | null {
  const best = leaderOf(arms);
  return best ? { ...armView(best.arm), separated: best.separated } : null;
}

function armView(a: { id: string; avgReward: number; count: number; low: number; high: number }): ArmView {
  return { id: a.id, avgReward: a.avgReward, count: a.count, low: a.low, high: a.high };
}
