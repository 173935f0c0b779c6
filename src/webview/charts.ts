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
import type { ModelView, PromptView, RewardPoint } from '../protocol';
import { formatCount, formatReward, formatTokens, truncate } from './format';
import { withAlpha, type ChartTheme } from './theme';

Chart.register(
  BarController,
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

/** Reward per bucket of runs (thin) and its rolling mean (thick), one colour per role, over run number. */
export function rewardChart(
  series: { role: string; points: RewardPoint[] }[],
  theme: ChartTheme,
): ChartConfiguration<'line'> {
  const base = baseOptions(theme);
  const datasets = series.flatMap(({ role, points }, i) => {
    const c = colour(theme, i);
    const name = truncate(role, LABEL_CHARS);
    return [
      {
        label: name,
        data: points.map((p) => ({ x: p.run, y: p.mean })),
        borderColor: c,
        backgroundColor: c,
        borderWidth: theme.kind.startsWith('high-contrast') ? 3 : 2,
        pointRadius: 0,
        tension: 0.2,
      },
      {
        label: `${name} per run`,
        data: points.map((p) => ({ x: p.run, y: p.reward })),
        borderColor: withAlpha(c, 0.35),
        backgroundColor: withAlpha(c, 0.35),
        borderWidth: 1,
        pointRadius: points.length > 60 ? 0 : 2,
      },
    ];
  });
  return {
    type: 'line',
    data: { datasets },
    options: {
      ...base.common,
      parsing: { xAxisKey: 'x', yAxisKey: 'y' },
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      scales: {
        x: { type: 'linear', ...base.axis('Run'), ticks: { ...base.axis('').ticks, precision: 0 } },
        y: { type: 'linear', min: 0, max: 1, ...base.axis('Reward') },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          callbacks: {
            title: (items) => (items[0] ? `Run ${formatCount(items[0].parsed.x ?? NaN)}` : ''),
            label: (item) => {
              const kind = item.datasetIndex % 2 === 0 ? 'rolling mean' : 'reward';
              return `${truncate(series[Math.floor(item.datasetIndex / 2)]?.role ?? '', LABEL_CHARS)} ${kind}: ${formatReward(item.parsed.y ?? NaN)}`;
            },
          },
        },
        legend: {
          ...base.legend,
          // One legend entry per role (its mean); clicking it shows or hides both of the role's lines.
          labels: { ...base.legend.labels, filter: (item) => (item.datasetIndex ?? 0) % 2 === 0 },
          onClick: (_event, item, legend) => {
            const index = item.datasetIndex ?? 0;
            const chart = legend.chart;
            const visible = chart.isDatasetVisible(index);
            chart.setDatasetVisibility(index, !visible);
            chart.setDatasetVisibility(index + 1, !visible);
            chart.update('none');
          },
        },
      },
    },
  };
}

const MAX_BUBBLE_RADIUS = 18;

/** Each model as a bubble: average reward against average cost, its area growing with its run count. */
export function modelChart(models: ModelView[], theme: ChartTheme): ChartConfiguration<'bubble'> {
  const base = baseOptions(theme);
  const maxCount = Math.max(1, ...models.map((m) => m.count));
  return {
    type: 'bubble',
    data: {
      datasets: models.map((m, i) => {
        const c = colour(theme, i);
        return {
          label: truncate(m.id, LABEL_CHARS),
          data: [
            {
              x: m.avgCostTokens,
              y: m.avgReward,
              r: 4 + (MAX_BUBBLE_RADIUS - 4) * Math.sqrt(Math.max(0, m.count) / maxCount),
            },
          ],
          backgroundColor: withAlpha(c, 0.45),
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
      scales: {
        x: { type: 'linear', beginAtZero: true, grace: '10%', ...base.axis('Avg cost (tokens)') },
        y: { type: 'linear', min: 0, max: 1, ...base.axis('Avg reward') },
      },
      plugins: {
        tooltip: {
          ...base.tooltip,
          callbacks: {
            label: (item) => {
              const m = models[item.datasetIndex];
              if (!m) return '';
              return `${truncate(m.id, LABEL_CHARS)}: reward ${formatReward(m.avgReward)}, ${formatTokens(m.avgCostTokens)}, ${formatCount(m.count)} runs`;
            },
          },
        },
        legend: { ...base.legend, position: 'bottom' },
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
              return `mean ${formatReward(p.avgReward)}, 95% ${formatReward(p.low)}–${formatReward(p.high)}, ${formatCount(p.count)} runs`;
            },
          },
        },
        // The caption says what the bar and the mark are; a legend would repeat it with misleading swatches.
        legend: { display: false },
      },
    },
  };
}
