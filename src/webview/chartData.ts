// What the dashboard's charts plot, worked out apart from Chart.js so it can be tested as plain data: models on a
// cost axis in money or tokens, models at the same spot spread apart, and the events marked on the run axis.

import type { EventView, ModelView } from '../protocol';

export interface ModelPoint {
  model: ModelView;
  /** Where it is drawn: its cost, moved sideways a little when other models sit on the same spot. */
  x: number;
  y: number;
  /** Its cost as it is, for the tooltip. */
  cost: number;
}

export interface ModelCostPlot {
  /** USD per run when every plotted model has a price (model_variants.json's costPer1kTokens), else tokens. */
  unit: 'usd' | 'tokens';
  points: ModelPoint[];
  /** Models none of whose runs reported a cost: they have no place on a cost axis. */
  unplaced: ModelView[];
}

/** How far apart models on the same spot are spread, as a share of the x axis's span. */
const SPREAD = 0.03;

export function modelCostPlot(models: readonly ModelView[]): ModelCostPlot {
  const placed = models.filter((m) => m.avgCostTokens !== null);
  const unplaced = models.filter((m) => m.avgCostTokens === null);
  const unit = placed.length > 0 && placed.every((m) => m.costPer1kTokens !== null) ? 'usd' : 'tokens';
  const costOf = (m: ModelView) =>
    unit === 'usd' ? ((m.avgCostTokens ?? 0) / 1000) * (m.costPer1kTokens ?? 0) : (m.avgCostTokens ?? 0);
  const costs = placed.map(costOf);
  const span = Math.max(...costs, 0) - Math.min(...costs, 0) || Math.max(...costs, 1);
  // Models whose marks would cover each other (the same cost and reward, as shown): spread in a row, in order.
  const spots = new Map<string, number>();
  const key = (cost: number, m: ModelView) =>
    `${Math.round(cost / (span * SPREAD))}:${Math.round(m.avgReward * 50)}`;
  placed.forEach((m, i) => spots.set(key(costs[i]!, m), (spots.get(key(costs[i]!, m)) ?? 0) + 1));
  const seen = new Map<string, number>();
  const points = placed.map((model, i) => {
    const cost = costs[i]!;
    const k = key(cost, model);
    const together = spots.get(k) ?? 1;
    const index = seen.get(k) ?? 0;
    seen.set(k, index + 1);
    const x = together > 1 ? cost + span * SPREAD * (index - (together - 1) / 2) : cost;
    return { model, x: Math.max(0, x), y: model.avgReward, cost };
  });
  return { unit, points, unplaced };
}

/** The events a chart over runs marks, by kind; the others (failures, evaluations) stay in the timeline. */
export const MARKER_KINDS = {
  export: 'Export',
  'export-tier': 'Export',
  training: 'Training',
  deploy: 'Deploy',
  drift: 'Drift alarm',
  rollback: 'Rollback',
} as const;

export type MarkerKind = 'export' | 'training' | 'deploy' | 'drift' | 'rollback';

export interface EventMarker {
  kind: MarkerKind;
  label: string;
  run: number;
  event: EventView;
}

/** The events to mark on the run axis, oldest first. */
export function eventMarkers(events: readonly EventView[]): EventMarker[] {
  const markers: EventMarker[] = [];
  for (const event of events) {
    const label = Object.hasOwn(MARKER_KINDS, event.kind)
      ? MARKER_KINDS[event.kind as keyof typeof MARKER_KINDS]
      : undefined;
    if (label === undefined || event.run === null) continue;
    const kind: MarkerKind = event.kind === 'export-tier' ? 'export' : (event.kind as MarkerKind);
    markers.push({ kind, label, run: event.run, event });
  }
  return markers.sort((a, b) => a.run - b.run || a.event.id - b.event.id);
}
