// The versioned API other extensions get from `vscode.extensions.getExtension('agent-learning.agent-learning').exports`.

import type * as vscode from 'vscode';
import type { LearningPipeline, RecordedRun } from '../core/pipeline';
import type { LearningService } from './learningService';

export interface AgentLearningApi {
  readonly apiVersion: 1;
  selectPrompt: LearningPipeline['selectPrompt'];
  selectModel: LearningPipeline['selectModel'];
  recordRun: LearningPipeline['recordRun'];
  recordFeedback: LearningPipeline['recordFeedback'];
  getStats: LearningPipeline['getStats'];
  fetchWebKnowledge: LearningPipeline['fetchWebKnowledge'];
  onDidRecordRun: vscode.Event<RecordedRun & { role: string; taskSlug: string }>;
}

/** Calls go to the pipeline of the folder in use at call time, so the API survives a folder switch. */
export function agentApi(service: LearningService): AgentLearningApi {
  return {
    apiVersion: 1,
    selectPrompt: (role) => service.openPipeline().selectPrompt(role),
    selectModel: (complexity, maxCost, role) => service.openPipeline().selectModel(complexity, maxCost, role),
    recordRun: (taskSlug, modelId, promptId, result, role) =>
      service.openPipeline().recordRun(taskSlug, modelId, promptId, result, role),
    recordFeedback: (runId, verdict) => service.openPipeline().recordFeedback(runId, verdict),
    getStats: () => service.openPipeline().getStats(),
    fetchWebKnowledge: (card, query, library) =>
      service.openPipeline().fetchWebKnowledge(card, query, library),
    onDidRecordRun: service.onDidRecordRun,
  };
}
