// The optional notification after each recorded run (setting agentLearning.notifyAfterRun, off by default).

import * as vscode from 'vscode';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

export class RunNotifier extends Disposable {
  constructor(service: LearningService) {
    super();
    this._register(
      service.onDidRecordRun(async (run) => {
        if (!vscode.workspace.getConfiguration('agentLearning').get<boolean>('notifyAfterRun', false)) return;
        const choice = await vscode.window.showInformationMessage(
          `Run recorded: ${run.taskSlug} (${run.role}), reward ${run.reward.toFixed(2)}`,
          'Accept',
          'Reject',
        );
        if (choice) await service.pipeline.recordFeedback(run.id, choice === 'Accept' ? 'accept' : 'reject');
      }),
    );
  }
}
