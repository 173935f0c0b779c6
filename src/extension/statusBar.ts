// The status bar item: average reward of the last 100 runs and the run count; a click opens the dashboard.

import * as vscode from 'vscode';
import type { LearningService } from './learningService';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'agentLearning.status',
    vscode.StatusBarAlignment.Right,
    100,
  );
  private readonly subscription: vscode.Disposable;
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly service: LearningService) {
    this.item.name = 'Agent Learning';
    this.item.command = 'agentLearning.openDashboard';
    this.subscription = service.onDidChange(() => this.schedule());
    this.update();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.update();
    }, 250);
  }

  private update(): void {
    if (!this.service.hasPipeline) {
      this.item.hide();
      return;
    }
    if (!this.service.ready) {
      this.item.text = '$(loading~spin) Agent Learning';
      this.item.tooltip = 'Opening the experience database…';
    } else {
      const s = this.service.pipeline.getStats();
      this.item.text =
        s.totals.runs === 0
          ? '$(graph) No runs yet'
          : `$(graph) ${s.recentStats.avgReward.toFixed(2)} · ${s.totals.runs} runs`;
      this.item.tooltip = new vscode.MarkdownString(
        `**Agent Learning** — ${this.service.folder!.name}\n\n` +
          `Average reward (last ${s.recentStats.count} runs): ${s.recentStats.avgReward.toFixed(2)}\n\n` +
          `Runs recorded: ${s.totals.runs}\n\nClick to open the dashboard.`,
      );
    }
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.subscription.dispose();
    this.item.dispose();
  }
}
