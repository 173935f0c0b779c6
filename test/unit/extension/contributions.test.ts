import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHAT_VENDOR } from '../../../src/core/gateway/chatModels';

const ROOT = path.resolve(__dirname, '../../..');

interface Command {
  command: string;
  title: string;
  category?: string;
  icon?: string;
}
interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string };
  completionEvents?: string[];
}
interface Manifest {
  contributes: {
    commands: Command[];
    views: Record<string, { id: string }[]>;
    walkthroughs: { id: string; title: string; steps: Step[] }[];
    languageModelChatProviders: { vendor: string; displayName: string }[];
  };
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
const commands = new Set(manifest.contributes.commands.map((c) => c.command));
const views = new Set(Object.values(manifest.contributes.views).flatMap((v) => v.map((view) => view.id)));
/** Command ids named in the extension's sources (registered directly, or through a constant). */
const registered = new Set(
  (fs.readdirSync(path.join(ROOT, 'src/extension'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [
      ...fs.readFileSync(path.join(ROOT, 'src/extension', f), 'utf8').matchAll(/'(agentLearning\.[\w.]+)'/g),
    ])
    .map((m) => m[1]!),
);
/** What VS Code itself gives every view: `<view id>.focus`. */
const builtIn = new Set([...views].map((v) => `${v}.focus`));

describe('package.json contributions', () => {
  it('gives every command the Agent Learning category and an implementation in the extension', () => {
    for (const c of manifest.contributes.commands) {
      assert.equal(c.category, 'Agent Learning', `${c.command} has no category`);
      assert.ok(registered.has(c.command), `${c.command} is contributed but the extension never names it`);
    }
  });

  it("declares the chat models' vendor that the extension registers (VS Code refuses an undeclared one)", () => {
    assert.deepEqual(manifest.contributes.languageModelChatProviders, [
      { vendor: CHAT_VENDOR, displayName: 'Agent Learning' },
    ]);
  });

  describe('the Get Started walkthrough', () => {
    const [walkthrough] = manifest.contributes.walkthroughs;

    it('goes from connecting an agent to deploying, with Check Setup before training', () => {
      assert.ok(walkthrough);
      assert.deepEqual(
        walkthrough.steps.map((s) => s.id),
        ['connect', 'firstRuns', 'review', 'export', 'checkSetup', 'train', 'deploy'],
      );
      const connect = walkthrough.steps[0]!;
      for (const way of [/API/, /agent-learning/, /inbox/, /gateway/]) assert.match(connect.description, way);
    });

    it('links only commands and views that exist, and completes each step on one of them', () => {
      for (const step of walkthrough!.steps) {
        const links = [...step.description.matchAll(/\]\(command:([\w.]+)\)/g)].map((m) => m[1]!);
        assert.ok(links.length > 0, `step ${step.id} has no button`);
        for (const id of links) assert.ok(commands.has(id) || builtIn.has(id), `${step.id} links ${id}`);
        assert.ok(step.completionEvents?.length, `step ${step.id} never completes`);
        for (const event of step.completionEvents ?? []) {
          const [kind, id] = event.split(':') as [string, string];
          if (kind === 'onCommand') assert.ok(commands.has(id), `${step.id}: ${event} names no command`);
          else if (kind === 'onView') assert.ok(views.has(id), `${step.id}: ${event} names no view`);
          else assert.fail(`${step.id}: unexpected completion event ${event}`);
        }
      }
    });

    it('has markdown media for every step, shipped in the .vsix', () => {
      const shipped = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n');
      assert.ok(shipped.includes('!media/walkthrough/*.md'), '.vscodeignore leaves the walkthrough out');
      for (const step of walkthrough!.steps) {
        const file = step.media.markdown ?? '';
        assert.ok(file.startsWith('media/walkthrough/') && file.endsWith('.md'), `${step.id}: ${file}`);
        const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
        assert.match(text, /^# /, `${file} has no heading`);
      }
    });
  });
});
