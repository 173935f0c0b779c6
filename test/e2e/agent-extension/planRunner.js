// Runs one plan against Agent Learning's exported API the way a user's agent calls it: pick a prompt and a
// model, do the work, record the run with the ids it was given, send a verdict later. Shared by the test
// extension (code-server suite) and the @vscode/test-electron suite, so both check the same calls.
'use strict';

/**
 * @typedef {object} Plan Every key is optional.
 * @property {string} [role] Role for selectPrompt/selectModel/recordRun (default 'coder').
 * @property {'small'|'medium'|'large'} [complexity] Tier for selectModel (default 'medium').
 * @property {{taskSlug: string, result: object, modelId?: string, promptId?: string, role?: string, files?: string[]}[]} [record]
 *   Runs to record in order; modelId and promptId default to the ones the API selected.
 * @property {{run: number|string, verdict: 'accept'|'reject'}[]} [feedback] Verdicts; `run` is an index into
 *   `record` or a run id.
 * @property {{id: string, args?: unknown[]}[]} [commands] Commands to execute, for agents that only call
 *   commands (their return values are kept).
 * @property {{runs: number, timeoutMs?: number}} [waitFor] Poll getStats() until totals.runs reaches `runs`:
 *   runs other processes wrote reach this window through the inbox.
 * @property {{vendor: string, id: string, prompt: string}[]} [chat] Requests to a chat model found with
 *   `vscode.lm.selectChatModels({vendor})`, as a user's chat sends them (needs the runner's `chat` option).
 * @property {AgentTurn[]} [turns] An agent outside the API, pointed at the gateway: each turn asks it for a chat
 *   completion, then applies its change to a workspace file (the `edit`, needs the runner's `edit` option).
 */

/**
 * @typedef {object} AgentTurn
 * @property {string} baseUrl The OpenAI-compatible base URL the agent is configured with, e.g. the gateway's
 *   `http://127.0.0.1:<port>/v1`; the turn POSTs `<baseUrl>/chat/completions` with Node's fetch.
 * @property {string} model
 * @property {string} prompt
 * @property {{file: string, append: string}} [edit] Text appended to a workspace file (relative path) once the
 *   answer is in, through the editor as coding agents in VS Code apply their changes (left unsaved).
 */

/**
 * @param {any} api The object Agent Learning's activate() returned.
 * @param {Plan} plan
 * @param {{executeCommand?: (id: string, ...args: unknown[]) => Thenable<unknown>, log?: (line: string) => void,
 *   chat?: (request: {vendor: string, id: string, prompt: string}) => Promise<object>,
 *   edit?: (edit: {file: string, append: string}) => Promise<object>}} [options]
 * @returns {Promise<object>} What the agent saw: { ok, error?, apiVersion, apiKeys, prompt, model, runs,
 *   feedback, commands, chats, turns, recordEvents, stats, waitedMs }
 */
async function runPlan(api, plan, options = {}) {
  const log = options.log ?? (() => {});
  const result = {
    ok: false,
    apiVersion: api.apiVersion,
    apiKeys: Object.keys(api).sort(),
    prompt: null,
    model: null,
    runs: [],
    feedback: [],
    commands: [],
    chats: [],
    turns: [],
    recordEvents: [],
    stats: null,
    waitedMs: 0,
  };
  const subscription = api.onDidRecordRun((e) => result.recordEvents.push(e));
  try {
    const role = plan.role ?? 'coder';
    result.prompt = api.selectPrompt(role);
    result.model = api.selectModel(plan.complexity ?? 'medium', undefined, role);
    log(`selected prompt ${result.prompt.id}, model ${result.model.id}`);
    for (const r of plan.record ?? []) {
      const modelId = r.modelId ?? result.model.id;
      const promptId = r.promptId ?? result.prompt.id;
      // `files`: the workspace files the run changed, for the editor to observe (RecordOptions.files).
      const options = r.files ? { files: r.files } : undefined;
      const recorded = await api.recordRun(r.taskSlug, modelId, promptId, r.result, r.role ?? role, options);
      log(`recorded ${r.taskSlug} as ${recorded.id} (reward ${recorded.reward})`);
      result.runs.push(recorded);
    }
    for (const f of plan.feedback ?? []) {
      const id = typeof f.run === 'number' ? result.runs[f.run]?.id : f.run;
      if (!id) throw new Error(`feedback names run ${JSON.stringify(f.run)}, which this plan did not record`);
      result.feedback.push(await api.recordFeedback(id, f.verdict));
      log(`feedback ${f.verdict} for ${id}`);
    }
    for (const c of plan.commands ?? []) {
      if (!options.executeCommand) throw new Error('this runner cannot execute commands');
      const value = await options.executeCommand(c.id, ...(c.args ?? []));
      result.commands.push({ id: c.id, value: value ?? null });
      log(`command ${c.id} done`);
    }
    for (const c of plan.chat ?? []) {
      if (!options.chat) throw new Error('this runner cannot send chat requests');
      result.chats.push(await options.chat(c));
      log(`chat ${c.id} done`);
    }
    for (const t of plan.turns ?? []) {
      if (t.edit && !options.edit) throw new Error('this runner cannot edit files');
      const turn = await askGateway(t);
      log(`asked ${t.baseUrl} for ${t.model}: HTTP ${turn.status}`);
      if (t.edit) {
        turn.edit = await options.edit(t.edit);
        log(`edited ${t.edit.file}`);
      }
      result.turns.push(turn);
    }
    if (plan.waitFor) {
      const started = Date.now();
      const deadline = started + (plan.waitFor.timeoutMs ?? 15_000);
      let runs = api.getStats().totals.runs;
      while (runs < plan.waitFor.runs) {
        if (Date.now() > deadline) {
          throw new Error(
            `getStats() still counts ${runs} runs, not ${plan.waitFor.runs}, after ${Date.now() - started} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        runs = api.getStats().totals.runs;
      }
      result.waitedMs = Date.now() - started;
      log(`getStats() counts ${runs} runs after ${result.waitedMs} ms`);
    }
    result.stats = api.getStats();
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
    log(`plan failed: ${result.error}`);
    try {
      result.stats = api.getStats();
    } catch {
      // keep what was seen before the failure
    }
  } finally {
    subscription.dispose();
  }
  return result;
}

/** One non-streamed chat completion, as an OpenAI-compatible client sends it; fails unless the answer is 200. */
async function askGateway(turn) {
  const response = await fetch(`${turn.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: turn.model, messages: [{ role: 'user', content: turn.prompt }] }),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${turn.baseUrl} answered HTTP ${response.status}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text);
  return { status: response.status, reply: body.choices?.[0]?.message?.content ?? null };
}

module.exports = { runPlan };
