// The optional notification after recorded runs (setting agentLearning.notifyAfterRun, off by default): for runs
// recorded in VS Code, and for those the CLI or an agent's inbox file brought in, one notification per batch.

import * as vscode from 'vscode';
import type { Verdict } from '../core/learning/runResult';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

export class RunNotifier extends Disposable {
  constructor(private readonly service: LearningService) {
    super();
    this._register(
      service.onDidRecordRun((run) => {
        if (!enabled()) return;
        void this.offer(
          run.id,
          `Run recorded: ${run.taskSlug} (${run.role}), reward ${run.reward.toFixed(2)}`,
        );
      }),
    );
    this._register(
      service.onDidIngestRuns(({ runs }) => {
        if (!enabled() || !service.hasPipeline) return;
        if (runs > 1) {
          void this.offer(undefined, `${runs} runs recorded from the CLI or inbox.`);
          return;
        }
        // A single run: the newest one is it (the pipeline has just ingested it).
        const [run] = service.pipeline.listRuns({}, { order: 'newest', limit: 1 }).runs;
        if (run)
          void this.offer(
            run.id,
            `Run recorded from the CLI or inbox: ${run.taskSlug} (${run.role}), reward ${run.reward.toFixed(2)}`,
          );
      }),
    );
  }

  /** With a run: Accept / Reject / Open Run; for a batch: Review Runs. */
  private async offer(runId: string | undefined, message: string): Promise<void> {
    if (runId === undefined) {
      const review = 'Review Runs';
      if ((await vscode.window.showInformationMessage(`Agent Learning: ${message}`, review)) === review)
        await vscode.commands.executeCommand('agentLearning.reviewRuns');
      return;
    }
    const choice = await vscode.window.showInformationMessage(message, 'Accept', 'Reject', 'Open Run');
    if (choice === 'Open Run') await vscode.commands.executeCommand('agentLearning.openRun', runId);
    else if (choice) {
      const verdict: Verdict = choice === 'Accept' ? 'accept' : 'reject';
      await this.service.openPipeline().recordFeedback(runId, verdict);
    }
  }
}

function enabled(): boolean {
  return vscode.workspace.getConfiguration('agentLearning').get<boolean>('notifyAfterRun', false);
}
