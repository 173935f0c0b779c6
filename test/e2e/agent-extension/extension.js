// Test-only agent: activates Agent Learning through its extension id, then runs each `.e2e/plan<name>.json`
// that appears in the first workspace folder (see planRunner.js) and writes `.e2e/result<name>.json`.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { runPlan } = require('./planRunner');

const AGENT_LEARNING_ID = 'agent-learning.agent-learning';
const PLAN_FILE = /^plan([A-Za-z0-9_-]*)\.json$/;
/** How often the agent looks for new plans; the tests wait on the result files, not on this. */
const SCAN_MS = 100;

/** Writes JSON to a temporary name and renames it, so a reader never sees half a file. */
function writeJsonAtomic(file, value) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2));
  fs.renameSync(tmp, file);
}

function describe(err) {
  return err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
}

async function activate(context) {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  if (!folder) return;
  const dir = path.join(folder.uri.fsPath, '.e2e');
  fs.mkdirSync(dir, { recursive: true });
  const log = (line) => {
    try {
      fs.appendFileSync(path.join(dir, 'agent.log'), `${new Date().toISOString()} ${line}\n`);
    } catch {
      // logging must never break the agent
    }
  };

  let api;
  try {
    const extension = vscode.extensions.getExtension(AGENT_LEARNING_ID);
    if (!extension) throw new Error(`${AGENT_LEARNING_ID} is not installed`);
    api = await extension.activate();
    if (!api) throw new Error(`${AGENT_LEARNING_ID} activated without returning its API`);
  } catch (err) {
    log(`no API: ${describe(err)}`);
    writeJsonAtomic(path.join(dir, 'ready.json'), { ok: false, error: describe(err) });
    return;
  }
  log(`API version ${api.apiVersion}; workspace trusted: ${vscode.workspace.isTrusted}`);
  writeJsonAtomic(path.join(dir, 'ready.json'), {
    ok: true,
    apiVersion: api.apiVersion,
    workspaceTrusted: vscode.workspace.isTrusted,
    vscodeVersion: vscode.version,
  });

  const started = new Set();
  let queue = Promise.resolve();
  const runOne = async (planName, suffix) => {
    const resultFile = path.join(dir, `result${suffix}.json`);
    let plan;
    try {
      plan = JSON.parse(fs.readFileSync(path.join(dir, planName), 'utf8'));
    } catch (err) {
      writeJsonAtomic(resultFile, { ok: false, error: `cannot read ${planName}: ${describe(err)}` });
      return;
    }
    log(`running ${planName}`);
    const result = await runPlan(api, plan, {
      executeCommand: (id, ...args) => vscode.commands.executeCommand(id, ...args),
      log: (line) => log(`${planName}: ${line}`),
      chat: sendChat,
      edit: (edit) => appendInEditor(folder, edit),
    });
    writeJsonAtomic(resultFile, { ...result, plan: planName, workspaceTrusted: vscode.workspace.isTrusted });
    log(`wrote result${suffix}.json (ok: ${result.ok})`);
  };
  const scan = () => {
    let names;
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const match = PLAN_FILE.exec(name);
      if (!match || started.has(name)) continue;
      started.add(name);
      queue = queue.then(() => runOne(name, match[1])).catch((err) => log(`runner: ${describe(err)}`));
    }
  };
  const timer = setInterval(scan, SCAN_MS);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
  scan();
}

/**
 * One chat request as a user's chat (or another extension) sends it: the vendor's models from
 * `vscode.lm.selectChatModels`, then `sendRequest` to the one with `id`, its text read as it streams.
 */
async function sendChat(request) {
  const models = await vscode.lm.selectChatModels({ vendor: request.vendor });
  const seen = models.map((m) => ({ id: m.id, name: m.name, family: m.family, vendor: m.vendor }));
  const model = models.find((m) => m.id === request.id);
  if (!model)
    throw new Error(`no chat model ${request.id} from ${request.vendor}; offered: ${JSON.stringify(seen)}`);
  const source = new vscode.CancellationTokenSource();
  try {
    const response = await model.sendRequest(
      [vscode.LanguageModelChatMessage.User(request.prompt)],
      { justification: 'The Agent Learning e2e suite checks its chat models.' },
      source.token,
    );
    const pieces = [];
    for await (const piece of response.text) pieces.push(piece);
    return { models: seen, model: model.id, pieces };
  } finally {
    source.dispose();
  }
}

/**
 * An agent's change applied the way agents inside VS Code apply theirs: the file opened in an editor, the text
 * added with a WorkspaceEdit (undoable, left unsaved for the user to keep or revert).
 */
async function appendInEditor(folder, edit) {
  const uri = vscode.Uri.joinPath(folder.uri, edit.file);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document, { preview: false });
  const change = new vscode.WorkspaceEdit();
  change.insert(uri, document.lineAt(document.lineCount - 1).range.end, edit.append);
  if (!(await vscode.workspace.applyEdit(change)))
    throw new Error(`the edit to ${edit.file} was not applied`);
  return { file: edit.file, version: document.version, dirty: document.isDirty };
}

function deactivate() {}

module.exports = { activate, deactivate };
