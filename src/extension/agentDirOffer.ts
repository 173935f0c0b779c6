// When `.agent/` is first created in a folder (by a run, an export, the config, the gateway, or another process),
// says what was created and offers to keep it, or its large files, out of Git. The answer is remembered per folder
// (workspaceState) and not asked again. The question never holds a run back: it is asked after the write.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import { AGENT_DIR_PATTERN, LARGE_AGENT_PATHS } from '../core/workspace/agentDir';
import { addToGitignore } from '../core/workspace/gitignore';
import { Disposable } from './dispose';
import type { AgentDirOrigin } from './lazyPipeline';
import type { LearningService } from './learningService';

export const GITIGNORE_CHOICES = {
  all: 'Add .agent/ to .gitignore',
  large: 'Ignore only the large files',
  keep: 'Keep in Git',
} as const;

type Choice = keyof typeof GITIGNORE_CHOICES;

const CHOICE_KEY = 'agentLearning.gitignoreChoice';

export class AgentDirOffer extends Disposable {
  constructor(
    service: LearningService,
    private readonly memento: vscode.Memento,
    private readonly output: vscode.OutputChannel,
  ) {
    super();
    this._register(service.onDidCreateAgentDir(({ folder, origin }) => void this.offer(folder, origin)));
  }

  private async offer(folder: vscode.WorkspaceFolder, origin: AgentDirOrigin): Promise<void> {
    const key = `${CHOICE_KEY}:${folder.uri.toString()}`;
    const remembered = this.memento.get<Choice>(key);
    const who = origin === 'write' ? 'Agent Learning' : 'Another process (the CLI or an agent)';
    this.output.appendLine(`Agent Learning: .agent/ created in ${folder.uri.fsPath}`);
    if (remembered) return;
    const labels = Object.values(GITIGNORE_CHOICES);
    const picked = await vscode.window.showInformationMessage(
      `${who} created .agent/ in ${folder.name}: the experience database, its inbox, the config and, later, ` +
        'datasets and adapters. Keep it out of Git?',
      ...labels,
    );
    // Dismissed: nothing is remembered, and the question comes back the next time .agent/ is created.
    const choice = (Object.keys(GITIGNORE_CHOICES) as Choice[]).find((c) => GITIGNORE_CHOICES[c] === picked);
    if (!choice) return;
    await this.memento.update(key, choice);
    if (choice === 'keep') return;
    try {
      const added = addToGitignore(
        folder.uri.fsPath,
        choice === 'all' ? [AGENT_DIR_PATTERN] : LARGE_AGENT_PATHS,
      );
      this.output.appendLine(
        added.length > 0
          ? `Agent Learning: added ${added.join(', ')} to ${folder.uri.fsPath}/.gitignore`
          : `Agent Learning: ${folder.uri.fsPath}/.gitignore already ignores them`,
      );
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: could not edit .gitignore: ${describe(err)}`);
    }
  }
}
