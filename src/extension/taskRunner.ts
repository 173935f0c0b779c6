// Runs training, conversion and `ollama create` as VS Code Tasks: each shows in its own integrated terminal, and
// its exit code comes back. A ProcessExecution, not a shell line: the program gets its arguments as a list, so
// nothing from config or run data is ever parsed by a shell.

import * as vscode from 'vscode';
import type { Step, StepOutcome, StepRunner } from '../core/automation/steps';

export const TASK_TYPE = 'agentLearning';

let runs = 0;

export class TaskRunner implements StepRunner {
  constructor(private readonly folder: () => vscode.WorkspaceFolder | undefined) {}

  async run(step: Step, signal?: AbortSignal): Promise<StepOutcome> {
    // Events are matched by this id: a fast process can end before executeTask's promise gives the execution.
    const id = `${step.id}-${Date.now()}-${++runs}`;
    const task = new vscode.Task(
      { type: TASK_TYPE, step: step.id, id },
      this.folder() ?? vscode.TaskScope.Workspace,
      step.title,
      'Agent Learning',
      new vscode.ProcessExecution(step.command, step.args, { cwd: step.cwd, env: step.env }),
    );
    task.presentationOptions = {
      reveal: vscode.TaskRevealKind.Always,
      panel: vscode.TaskPanelKind.Dedicated,
      clear: true,
      showReuseMessage: false,
    };
    task.isBackground = false;
    return new Promise<StepOutcome>((resolve, reject) => {
      let execution: vscode.TaskExecution | undefined;
      const ours = (e: { execution: vscode.TaskExecution }) => e.execution.task.definition.id === id;
      let exitCode: number | undefined;
      const subscriptions: vscode.Disposable[] = [];
      const done = (outcome: StepOutcome) => {
        for (const s of subscriptions) s.dispose();
        resolve(outcome);
      };
      subscriptions.push(
        vscode.tasks.onDidEndTaskProcess((e) => {
          if (ours(e)) exitCode = e.exitCode;
        }),
        // A process that could not start ends the task without a process exit code.
        vscode.tasks.onDidEndTask((e) => {
          if (!ours(e)) return;
          done(
            exitCode === undefined
              ? {
                  exitCode: undefined,
                  error: `"${step.command}" did not start or was stopped (see its terminal)`,
                }
              : { exitCode },
          );
        }),
      );
      signal?.addEventListener('abort', () => execution?.terminate(), { once: true });
      vscode.tasks.executeTask(task).then(
        (e) => (execution = e),
        (err: unknown) => {
          for (const s of subscriptions) s.dispose();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}
