// The review loop's commands: open a run, review the queue (filters, order, paging, next/previous), judge the
// focused run, and Accept / Reject Last Run with a notification that names the run and offers Undo.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import type { Verdict } from '../core/learning/runResult';
import type { RunFilter } from '../core/store/store';
import type { LearningService } from './learningService';
import { LOAD_MORE_COMMAND, OPEN_RUN_COMMAND, REVIEW_QUEUE_VIEW_ID, type ReviewQueue } from './reviewQueue';
import type { RunPanels } from './runPanels';
import type { VerdictDesk } from './verdictHistory';

export function registerReviewCommands(
  context: vscode.ExtensionContext,
  service: LearningService,
  queue: ReviewQueue,
  panels: RunPanels,
  desk: VerdictDesk,
): void {
  const register = (id: string, fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  const model = queue.model;
  const setFilter = (change: Partial<RunFilter>) => {
    model.filter = withoutUndefined({ ...model.filter, ...change });
    queue.refresh();
  };

  register(OPEN_RUN_COMMAND, (runId?: string) => {
    if (typeof runId === 'string' && runId !== '') panels.show(runId);
  });
  register('agentLearning.reviewRuns', async () => {
    if (service.hasPipeline) await service.pipeline.whenReady();
    await vscode.commands.executeCommand(`${REVIEW_QUEUE_VIEW_ID}.focus`);
    queue.refresh();
    const first = model.runs[0];
    if (first) panels.show(first.id);
    else void vscode.window.showInformationMessage('Agent Learning: no run waits for a verdict.');
  });
  register(LOAD_MORE_COMMAND, () => queue.loadMore());
  register('agentLearning.queue.refresh', () => queue.refresh());

  register('agentLearning.acceptRun', () => panels.judgeActive('accept'));
  register('agentLearning.rejectRun', () => panels.judgeActive('reject'));
  register('agentLearning.nextRun', () => panels.navigate('next'));
  register('agentLearning.previousRun', () => panels.navigate('previous'));

  register('agentLearning.queue.filterRole', async () => {
    const role = await pickOrAll(
      'Show the runs of which role?',
      service.hasPipeline ? service.pipeline.roles() : [],
      model.filter.role,
    );
    if (role !== null) setFilter({ role });
  });
  register('agentLearning.queue.filterModel', async () => {
    const models = service.hasPipeline ? service.pipeline.getInsights(0).models.map((m) => m.id) : [];
    const modelId = await pickOrAll('Show the runs of which model?', models, model.filter.model);
    if (modelId !== null) setFilter({ model: modelId });
  });
  register('agentLearning.queue.filterPrompt', async () => {
    const prompts = service.hasPipeline ? service.pipeline.getInsights(0).prompts.map((p) => p.id) : [];
    const prompt = await pickOrAll('Show the runs of which prompt?', prompts, model.filter.prompt);
    if (prompt !== null) setFilter({ prompt });
  });
  register('agentLearning.queue.filterVerdict', async () => {
    const choices: { label: string; verdict: RunFilter['verdict'] }[] = [
      { label: 'No verdict yet (to review)', verdict: 'none' },
      { label: 'Accepted', verdict: 'accept' },
      { label: 'Rejected', verdict: 'reject' },
      { label: 'Any verdict', verdict: undefined },
    ];
    const pick = await vscode.window.showQuickPick(choices, { title: 'Show runs with which verdict?' });
    if (pick) setFilter({ verdict: pick.verdict });
  });
  register('agentLearning.queue.filterReward', async () => {
    const current =
      model.filter.minReward === undefined && model.filter.maxReward === undefined
        ? ''
        : `${model.filter.minReward ?? 0}-${model.filter.maxReward ?? 1}`;
    const text = await vscode.window.showInputBox({
      title: 'Show runs with a reward in which range?',
      prompt: 'Two numbers between 0 and 1, like 0.2-0.6. Empty: any reward.',
      value: current,
      validateInput: (value) =>
        parseRange(value) === undefined ? 'Write two numbers from 0 to 1, low first: 0.2-0.6' : undefined,
    });
    if (text === undefined) return;
    const range = parseRange(text)!;
    setFilter({ minReward: range.min, maxReward: range.max });
  });
  register('agentLearning.queue.sort', async () => {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Newest first', order: 'newest' as const },
        {
          label: 'Least certain first',
          detail: 'Rewards nearest 0.5 first: the runs whose compile, test and lint signals say least.',
          order: 'uncertain' as const,
        },
      ],
      { title: 'Order the review queue' },
    );
    if (!pick) return;
    model.order = pick.order;
    queue.refresh();
  });
  register('agentLearning.queue.clearFilters', () => {
    model.filter = { verdict: 'none' };
    model.order = 'newest';
    queue.refresh();
  });

  register('agentLearning.acceptLastRun', () => judgeLastRun(service, desk, panels, 'accept'));
  register('agentLearning.rejectLastRun', () => judgeLastRun(service, desk, panels, 'reject'));
}

/** The chosen value, undefined for "all", null when the pick was dismissed. */
async function pickOrAll(
  title: string,
  values: string[],
  current: string | undefined,
): Promise<string | undefined | null> {
  const all = { label: '$(list-flat) All', value: undefined as string | undefined };
  const pick = await vscode.window.showQuickPick(
    [all, ...values.map((v) => ({ label: v, value: v as string | undefined, picked: v === current }))],
    { title },
  );
  return pick ? pick.value : null;
}

/** "0.2-0.6" (or "0.2 0.6", "0.2–0.6") as a range in [0, 1]; "" as no range; undefined when it is not one. */
export function parseRange(text: string): { min: number | undefined; max: number | undefined } | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return { min: undefined, max: undefined };
  const m = /^(\d*\.?\d+)\s*(?:-|–|\s|to)\s*(\d*\.?\d+)$/.exec(trimmed);
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (!(min >= 0 && max <= 1 && min <= max)) return undefined;
  return { min, max };
}

function withoutUndefined(filter: RunFilter): RunFilter {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as RunFilter;
}

/** Judges the newest run and says which one it was (task, model, time), with Undo and Open Run. */
async function judgeLastRun(
  service: LearningService,
  desk: VerdictDesk,
  panels: RunPanels,
  verdict: Verdict,
): Promise<void> {
  const pipeline = service.hasPipeline ? service.pipeline : undefined;
  await pipeline?.whenReady();
  const id = pipeline?.lastRunId();
  const run = id === undefined ? undefined : pipeline?.getRun(id);
  if (!id || !run) {
    void vscode.window.showInformationMessage('Agent Learning: no run recorded yet.');
    return;
  }
  try {
    const { reward } = await desk.set(id, verdict);
    const undo = 'Undo';
    const open = 'Open Run';
    const choice = await vscode.window.showInformationMessage(
      `Agent Learning: ${verdict === 'accept' ? 'accepted' : 'rejected'} the last run, ` +
        `"${run.taskSlug.slice(0, 80)}" (${run.modelId.slice(0, 60)}, ${new Date(run.createdAt).toLocaleTimeString()}): ` +
        `reward ${reward.toFixed(2)}.`,
      undo,
      open,
    );
    if (choice === undo) {
      const undone = await desk.undo(id);
      if (undone)
        vscode.window.setStatusBarMessage(
          `Agent Learning: undone; the run is back to ${undone.verdict ?? 'no verdict'} (reward ${undone.reward.toFixed(2)})`,
          4000,
        );
    } else if (choice === open) panels.show(id);
  } catch (err) {
    void vscode.window.showErrorMessage(`Agent Learning: the verdict was not recorded: ${describe(err)}`);
  }
}
