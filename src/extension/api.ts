// The versioned API other extensions get from `vscode.extensions.getExtension('agent-learning.agent-learning').exports`.

import type { LearningPipeline } from '../core/pipeline';

export interface AgentLearningApi {
  readonly apiVersion: 1;
  selectPrompt: LearningPipeline['selectPrompt'];
  selectModel: LearningPipeline['selectModel'];
  recordRun: LearningPipeline['recordRun'];
  recordFeedback: LearningPipeline['recordFeedback'];
  getStats: LearningPipeline['getStats'];
  fetchWebKnowledge: LearningPipeline['fetchWebKnowledge'];
  onDidRecordRun: LearningPipeline['onDidRecordRun'];
}

export function agentApi(p: LearningPipeline): AgentLearningApi {
  return {
    apiVersion: 1,
    selectPrompt: (role) => p.selectPrompt(role),
    selectModel: (complexity, maxCost, role) => p.selectModel(complexity, maxCost, role),
    recordRun: (taskSlug, modelId, promptId, result, role) =>
      p.recordRun(taskSlug, modelId, promptId, result, role),
    recordFeedback: (runId, verdict) => p.recordFeedback(runId, verdict),
    getStats: () => p.getStats(),
    fetchWebKnowledge: (card, query, library) => p.fetchWebKnowledge(card, query, library),
    onDidRecordRun: p.onDidRecordRun,
  };
}
