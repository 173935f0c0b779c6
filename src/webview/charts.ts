// The dashboard's charts, drawn with Chart.js.
//
// Why Chart.js (4.x) over uPlot: the dashboard needs three kinds of chart, a line chart of reward over runs,
// a bubble chart of model reward against cost with run counts, and intervals (floating bars) for the prompts'
// 95% confidence ranges. Chart.js has all three built in, with a legend and keyboard-free tooltips drawn on the
// canvas (so names from agents are never parsed as HTML); uPlot is smaller but is built for time series, and its
// scatter and interval charts would be hand-drawn plugins. Chart.js is tree-shaken here (only the controllers
// registered below are bundled), injects no <style> and writes no style attributes, so it runs under the
// webview's strict CSP. Animations are off: states arrive often, and a redraw should show data, not motion.

import {
  BarController,
  Filler,
  BarElement,
  BubbleController,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
} from 'chart.js';
import type { HistoryView, PromptView } from '../protocol';
import type { EventMarker, MarkerKind, ModelCostPlot } from './chartData';
import {
  formatCount,
  formatCountOf,
  formatDateTime,
  formatReward,
  formatTokens,
  formatUsd,
  truncate,
} from './format';
import { withAlpha, type ChartTheme } from './theme';

Chart.register(
  BarController,
  Filler,
  BarElement,
  BubbleController,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

/** Longest name drawn on a chart (legend, axis, tooltip); tables beside the charts show names in full. */
const LABEL_CHARS = 28;

/** One canvas whose chart is created on first data and updated in place after, so redraws do not flicker. */
export class ChartSlot<T extends ChartType> {
  private chart: Chart<T> | undefined;

  constructor(readonly canvas: HTMLCanvasElement) {}

  show(config: ChartConfiguration<T>): void {
    if (!this.chart) {
      this.chart = new Chart(this.canvas, config);
      return;
    }
    this.chart.data = config.data;
    if (config.options) this.chart.options = config.options;
    this.chart.update('none');
  }

  destroy(): void {
    this.chart?.destroy();
    this.chart = undefined;
  }
}

function colour(theme: ChartTheme, index: number): string {
  return theme.palette[index % theme.palette.length] ?? theme.foreground;
}

function baseOptions(theme: ChartTheme) {
  const font = { family: theme.fontFamily, size: theme.fontSize };
  const axis = (title: string) => ({
    title: { display: true, text: title, color: theme.muted, font },
    ticks: { color: theme.foreground, font },
    grid: { color: theme.grid },
    border: { color: theme.axis },
  });
  return {
    font,
    axis,
    common: {
      animation: false as const,
      responsive: true,
      maintainAspectRatio: false,
      color: theme.foreground,
      borderColor: theme.axis,
    },
    tooltip: {
      backgroundColor: theme.background,
      titleColor: theme.foreground,
      bodyColor: theme.foreground,
      borderColor: theme.axis,
      borderWidth: 1,
      titleFont: font,
      bodyFont: font,
    },
    legend: { labels: { color: theme.foreground, font, boxWidth: 12, boxHeight: 12 } },
  };
}

/** The colour and mark of each kind of event on the reward chart. */
function markerStyle(
  theme: ChartTheme,
  kind: MarkerKind,
): { colour: string; point: 'triangle' | 'rectRot' | 'rect' | 'crossRot' | 'star' } {
  switch (kind) {
    case 'export':
      return { colour: theme.muted, point: 'rect' };
    case 'training':
      return { colour: colour(theme, 3), point: 'rectRot' };
    case 'deploy':
      return { colour: theme.good, point: 'triangle' };
    case 'drift':
      return { colour: theme.bad, point: 'star' };
    case 'rollback':
      return { colour: theme.bad, point: 'crossRot' };
  }
}

/**
 * Reward over run order, every role on the same axis: per role its mean per window (thin), its rolling mean (thick)
 * and its baseline (dashed, the mean of its first runs); exports, trainings, deploys, drift alarms and rollbacks as
 * marks along the top with a dotted line down through the plot.
 */
export function historyChart(
  history: HistoryView,
  markers: EventMarker[],
  theme: ChartTheme,
): ChartConfiguration<'line'> {
  const base = baseOptions(theme);
  const runs = history.runs;
  const last = runs.at(-1) ?? 0;
  type Kind = { kind: 'mean' | 'window' | 'baseline'; role: number } | { kind: 'marker'; marker: MarkerKind };
  const kinds: Kind[] = [];
  const datasets: ChartConfiguration<'line'>['data']['datasets'] = [];
  history.roles.forEach(({ role, reward, mean, baseline }, i) => {
    const c = colour(theme, i);
    const name = truncate(role, LABEL_CHARS);
    const points = (ys: (number | null)[]) => ys.map((y, w) => ({ x: runs[w] ?? 0, y }));
    datasets.push({
      label: name,
      data: points(mean),
      borderColor: c,
      backgroundColor: c,
      borderWidth: theme.kind.startsWith('high-contrast') ? 3 : 2,
      pointRadius: 0,
      tension: 0.2,
      spanGaps: true,
    });
    kinds.push({ kind: 'mean', role: i });
    datasets.push({
      label: `${name} per window`,
      data: points(reward),
      borderColor: withAlpha(c, 0.35),
      backgroundColor: withAlpha(c, 0.35),
      borderWidth: 1,
      pointRadius: runs.length > 60 ? 0 : 2,
      spanGaps: true,
    });
    kinds.push({ kind: 'window', role: i });
    datasets.push({
      label: `${name} baseline`,
      data: baseline
        ? [
            { x: 0, y: baseline.reward },
            { x: last, y: baseline.reward },
          ]
        : [],
      borderColor: withAlpha(c, 0.8),
      backgroundColor: withAlpha(c, 0.8),
      borderWidth: 1,
      borderDash: [6, 4],
      pointRadius: 0,
      pointHitRadius: 0,
    });
    kinds.push({ kind: 'baseline', role: i });
  });
  const byKind = new Map<MarkerKind, EventMarker[]>();
  for (const m of markers) byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), m]);
  for (const [kind, list] of byKind) {
    const style = markerStyle(theme, kind);
    datasets.push({
      label: list[0]!.label,
      data: list.map((m) => ({ x: m.run, y: 1 })),
      showLine: false,
      pointStyle: style.point,
      pointRadius: 7,
      pointHoverRadius: 8,
      pointBorderWidth: 2,
      borderColor: style.colour,
      backgroundColor: style.colour,
      clip: false as const,
    });
    kinds.push({ kind: 'marker', marker: kind });
  }
  const markerAt = (datasetIndex: number, index: number): EventMarker | undefined => {
    const k = kinds[datasetIndex];
    return k?.kind === 'marker' ? byKind.get(k.marker)?.[index] : undefined;
  };
  return {
    type: 'line',
    data: { datasets },
    options: {
      ...base.common,
      parsing: { xAxisKey: 'x', yAxisKey: 'y' },
      layout: { padding: { top: 10 } },
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          max: Math.max(1, last),
          ...base.axis('Runs, all roles, in the order recorded'),
          ticks: { ...base.axis('').ticks, precision: 0 },
        },
        y: { type: 'linear', min: 0, max: 1, ...base.axis('Reward') },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          filter: (item) => kinds[item.datasetIndex]?.kind !== 'baseline',
          callbacks: {
            title: (items) => {
              const item = items[0];
              if (!item) return '';
              const marker = markerAt(item.datasetIndex, item.dataIndex);
              if (marker) return `${marker.label} after run ${formatCount(marker.run)}`;
              const w = runs.indexOf(item.parsed.x ?? NaN);
              const at = w >= 0 ? history.at[w] : undefined;
              return `Run ${formatCount(item.parsed.x ?? NaN)}${at !== undefined ? ` · ${formatDateTime(at)}` : ''}`;
            },
            label: (item) => {
              const k = kinds[item.datasetIndex];
              if (!k) return '';
              if (k.kind === 'marker') {
                const marker = markerAt(item.datasetIndex, item.dataIndex);
                return marker ? truncate(marker.event.message, 80) : '';
              }
              const series = history.roles[k.role];
              const role = truncate(series?.role ?? '', LABEL_CHARS);
              const what = k.kind === 'mean' ? 'rolling mean' : 'reward';
              const baseline =
                k.kind === 'mean' && series?.baseline
                  ? ` (baseline ${formatReward(series.baseline.reward)}, first ${formatCountOf(series.baseline.runs, 'run')})`
                  : '';
              return `${role} ${what}: ${formatReward(item.parsed.y ?? NaN)}${baseline}`;
            },
          },
        },
        legend: {
          ...base.legend,
          // One entry per role (its mean, standing for its three lines) and one per kind of event.
          labels: {
            ...base.legend.labels,
            usePointStyle: true,
            filter: (item) => {
              const k = kinds[item.datasetIndex ?? -1];
              return k?.kind === 'mean' || k?.kind === 'marker';
            },
          },
          onClick: (_event, item, legend) => {
            const index = item.datasetIndex ?? 0;
            const chart = legend.chart;
            const visible = chart.isDatasetVisible(index);
            const k = kinds[index];
            const family = k?.kind === 'mean' ? [index, index + 1, index + 2] : [index];
            for (const i of family) chart.setDatasetVisibility(i, !visible);
            chart.update('none');
          },
        },
      },
    },
    plugins: [
      {
        // A dotted line down from each event's mark, so it reads against the reward lines below it.
        id: 'eventLines',
        beforeDatasetsDraw: (chart) => {
          const { ctx, chartArea, scales } = chart;
          const x = scales.x;
          if (!x) return;
          ctx.save();
          ctx.setLineDash([2, 3]);
          ctx.lineWidth = 1;
          for (const m of markers) {
            const px = x.getPixelForValue(m.run);
            if (px < chartArea.left - 1 || px > chartArea.right + 1) continue;
            ctx.strokeStyle = markerStyle(theme, m.kind).colour;
            ctx.beginPath();
            ctx.moveTo(px, chartArea.top);
            ctx.lineTo(px, chartArea.bottom);
            ctx.stroke();
          }
          ctx.restore();
        },
      },
    ],
  };
}

/** Each prompt's (or model's) share of the runs per window, stacked to 100%: a learner chooses its best more often. */
export function choiceChart(
  choices: { runs: number[]; series: { id: string | null; share: number[] }[] },
  what: 'prompt' | 'model',
  theme: ChartTheme,
): ChartConfiguration<'line'> {
  const base = baseOptions(theme);
  const others = what === 'prompt' ? 'other prompts' : 'other models';
  const name = (id: string | null) => (id === null ? others : truncate(id, LABEL_CHARS));
  return {
    type: 'line',
    data: {
      datasets: choices.series.map((s, i) => {
        const c = s.id === null ? theme.muted : colour(theme, i);
        return {
          label: name(s.id),
          data: s.share.map((y, w) => ({ x: choices.runs[w] ?? 0, y })),
          borderColor: c,
          backgroundColor: withAlpha(c, 0.35),
          borderWidth: 1,
          pointRadius: 0,
          fill: i === 0 ? 'origin' : '-1',
          stepped: false,
        };
      }),
    },
    options: {
      ...base.common,
      parsing: { xAxisKey: 'x', yAxisKey: 'y' },
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          ...base.axis('Runs, all roles'),
          ticks: { ...base.axis('').ticks, precision: 0 },
        },
        y: {
          type: 'linear',
          min: 0,
          max: 1,
          stacked: true,
          ...base.axis('Share of runs'),
          ticks: { ...base.axis('').ticks, callback: (v) => `${Math.round(Number(v) * 100)}%` },
        },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          callbacks: {
            title: (items) => (items[0] ? `Runs up to ${formatCount(items[0].parsed.x ?? NaN)}` : ''),
            label: (item) => {
              const s = choices.series[item.datasetIndex];
              return s ? `${name(s.id)}: ${Math.round((s.share[item.dataIndex] ?? 0) * 100)}%` : '';
            },
          },
        },
        legend: { ...base.legend, position: 'bottom' },
      },
    },
  };
}

const MAX_BUBBLE_RADIUS = 18;

/** Marks told apart without colour, so models on the same spot stay distinguishable. */
const MODEL_MARKS = [
  'circle',
  'rect',
  'triangle',
  'rectRot',
  'star',
  'crossRot',
  'rectRounded',
  'cross',
] as const;

/**
 * Each model as a bubble: average reward against average cost per run, in dollars where every model has a price
 * (tokens otherwise, as the axis says), its area growing with its run count, a mark of its own.
 */
export function modelChart(plot: ModelCostPlot, theme: ChartTheme): ChartConfiguration<'bubble'> {
  const base = baseOptions(theme);
  const maxCount = Math.max(1, ...plot.points.map((p) => p.model.count));
  const costText = (cost: number) =>
    plot.unit === 'usd' ? `${formatUsd(cost)} per run` : `${formatTokens(cost)} per run`;
  return {
    type: 'bubble',
    data: {
      datasets: plot.points.map((p, i) => {
        const c = colour(theme, i);
        return {
          label: truncate(p.model.id, LABEL_CHARS),
          data: [
            {
              x: p.x,
              y: p.y,
              r: 4 + (MAX_BUBBLE_RADIUS - 4) * Math.sqrt(Math.max(0, p.model.count) / maxCount),
            },
          ],
          pointStyle: MODEL_MARKS[i % MODEL_MARKS.length],
          backgroundColor: withAlpha(c, 0.35),
          borderColor: c,
          borderWidth: 2,
          // A model at reward 1 or 0 (common in the first runs) would be cut in half at the plot's edge.
          clip: false as const,
        };
      }),
    },
    options: {
      ...base.common,
      // Room above the plot for the largest bubble (radius 18) at reward 1.
      layout: { padding: { top: MAX_BUBBLE_RADIUS } },
      // Every model under the pointer, so one drawn over another is still named.
      interaction: { mode: 'point', intersect: true },
      scales: {
        x: {
          type: 'linear',
          beginAtZero: true,
          grace: '10%',
          ...base.axis(plot.unit === 'usd' ? 'Avg cost per run (USD)' : 'Avg cost per run (tokens)'),
          ticks: {
            ...base.axis('').ticks,
            callback: (v) => (plot.unit === 'usd' ? formatUsd(Number(v)) : formatCount(Number(v))),
          },
        },
        y: { type: 'linear', min: 0, max: 1, ...base.axis('Avg reward') },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          callbacks: {
            label: (item) => {
              const p = plot.points[item.datasetIndex];
              if (!p) return '';
              return `${truncate(p.model.id, LABEL_CHARS)}: reward ${formatReward(p.model.avgReward)}, ${costText(p.cost)}, ${formatCountOf(p.model.count, 'run')}`;
            },
          },
        },
        legend: {
          ...base.legend,
          position: 'bottom',
          labels: { ...base.legend.labels, usePointStyle: true },
        },
      },
    },
  };
}

/** Each prompt's 95% interval of mean reward as a floating bar, its mean as a mark; the preferred one stands out. */
export function promptChart(prompts: PromptView[], theme: ChartTheme): ChartConfiguration<'bar' | 'line'> {
  const base = baseOptions(theme);
  const barColour = (p: PromptView) => (p.preferred ? theme.good : colour(theme, 0));
  return {
    type: 'bar',
    data: {
      labels: prompts.map((p) => `${p.preferred ? '★ ' : ''}${truncate(p.id, LABEL_CHARS)}`),
      datasets: [
        {
          type: 'bar',
          label: '95% interval',
          data: prompts.map((p): [number, number] => [p.low, p.high]),
          backgroundColor: prompts.map((p) => withAlpha(barColour(p), 0.4)),
          borderColor: prompts.map(barColour),
          borderWidth: 1,
          borderSkipped: false,
          barPercentage: 0.6,
        },
        {
          type: 'line',
          label: 'Mean reward',
          data: prompts.map((p) => p.avgReward),
          showLine: false,
          pointStyle: 'rectRot',
          pointRadius: 6,
          pointHoverRadius: 7,
          pointBackgroundColor: theme.foreground,
          pointBorderColor: theme.background,
          borderColor: theme.foreground,
          backgroundColor: theme.foreground,
        },
      ],
    },
    options: {
      ...base.common,
      indexAxis: 'y',
      scales: {
        x: { type: 'linear', min: 0, max: 1, ...base.axis('Reward') },
        y: { type: 'category', ...base.axis('Prompt'), title: { display: false } },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          callbacks: {
            label: (item) => {
              const p = prompts[item.dataIndex];
              if (!p) return '';
              return `mean ${formatReward(p.avgReward)}, 95% ${formatReward(p.low)}–${formatReward(p.high)}, ${formatCountOf(p.count, 'run')}`;
            },
          },
        },
        // The caption says what the bar and the mark are; a legend would repeat it with misleading swatches.
        legend: { display: false },
      },
    },
  };
}
