// The status bar item: average reward of the last 100 runs and the run count; a click opens the dashboard.

import * as vscode from 'vscode';
import { Coalescer } from './coalescer';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

export class StatusBar extends Disposable {
  private readonly item = this._register(
    vscode.window.createStatusBarItem('agentLearning.status', vscode.StatusBarAlignment.Right, 100),
  );
  private readonly updates = this._register(new Coalescer(250, () => this.update()));

  constructor(private readonly service: LearningService) {
    super();
    this.item.name = 'Agent Learning';
    this.item.command = 'agentLearning.openDashboard';
    this._register(service.onDidChange(() => this.updates.schedule()));
    this.update();
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
      // The folder name is the user's, not markdown: appended as text.
      this.item.tooltip = new vscode.MarkdownString('**Agent Learning** — ')
        .appendText(this.service.folder!.name)
        .appendMarkdown(
          `\n\nAverage reward (last ${s.recentStats.count} runs): ${s.recentStats.avgReward.toFixed(2)}\n\n` +
            `Runs recorded: ${s.totals.runs}\n\nClick to open the dashboard.`,
        );
    }
    this.item.show();
  }
}
