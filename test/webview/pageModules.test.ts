// The page modules that need no DOM (formatting, reading host messages), tested on Node beside the Chromium tests.

import assert from 'node:assert/strict';
import {
  formatAge,
  formatDurationMs,
  formatReward,
  formatRewardDelta,
  truncate,
} from '../../src/webview/format';
import { readHostMessage } from '../../src/webview/hostMessages';
import { dashboardState, sidebarState, TRAINING } from './support/fixtures';

describe('webview page modules', () => {
  describe('format', () => {
    const now = Date.UTC(2025, 5, 1, 12);

    it('says how long ago a run was, in the words the sidebar uses', () => {
      assert.equal(formatAge(now - 10_000, now), 'just now');
      assert.equal(formatAge(now + 60_000, now), 'just now', 'a clock ahead of ours is not the future');
      assert.equal(formatAge(now - 3.5 * 60_000, now), '3 min ago');
      assert.equal(formatAge(now - 5 * 3_600_000, now), '5 h ago');
      assert.equal(formatAge(now - 2 * 86_400_000, now), '2 d ago');
      assert.equal(formatAge(Number.NaN, now), '—');
    });

    it('formats rewards, their changes and durations', () => {
      assert.equal(formatReward(0.784), '0.78');
      assert.equal(formatReward(Number.NaN), '—');
      assert.equal(formatRewardDelta(0.063), '+0.06');
      assert.equal(formatRewardDelta(-0.031), '−0.03');
      assert.equal(formatRewardDelta(0.001), '±0.00');
      assert.equal(formatDurationMs(850), '850 ms');
      assert.equal(formatDurationMs(4_200), '4.2 s');
      assert.equal(formatDurationMs(125_000), '2 min 5 s');
      assert.equal(formatDurationMs(3_900_000), '1 h 5 min');
    });

    it('shortens text by whole characters as people count them, never splitting an emoji', () => {
      assert.equal(truncate('short', 10), 'short');
      assert.equal(truncate('abcdefghijk', 5), 'abcd…');
      assert.equal(truncate('👩‍💻👩‍💻👩‍💻', 3), '👩‍💻👩‍💻👩‍💻');
      assert.equal(truncate('👩‍💻👩‍💻👩‍💻👩‍💻', 3), '👩‍💻👩‍💻…');
      assert.equal(truncate('🇳🇱🇳🇱🇳🇱', 2), '🇳🇱…');
      assert.equal(truncate('🚀'.repeat(10), 4), '🚀🚀🚀…');
      assert.equal(truncate('x'.repeat(100_000), 10).length, 10);
    });
  });

  describe('reading host messages', () => {
    const warnings: string[] = [];
    const warn = console.warn;
    beforeEach(() => {
      warnings.length = 0;
      console.warn = (message: string) => warnings.push(message);
    });
    afterEach(() => {
      console.warn = warn;
    });

    it('accepts every message the protocol defines, as sent', () => {
      const messages = [
        { type: 'sidebar', state: sidebarState() },
        { type: 'dashboard', state: dashboardState({ training: TRAINING }) },
        { type: 'training', progress: TRAINING },
        { type: 'training', progress: null },
      ];
      for (const message of messages) assert.deepEqual(readHostMessage(structuredClone(message)), message);
      assert.deepEqual(warnings, []);
    });

    it('drops, and warns about, anything else', () => {
      const good = sidebarState();
      const bad = [
        null,
        'sidebar',
        [],
        { type: 'unknown' },
        { type: 'sidebar' },
        { type: 'sidebar', state: { ...good, version: 2 } },
        { type: 'sidebar', state: { ...good, ready: 'yes' } },
        { type: 'sidebar', state: { ...good, recentRuns: [{ ...good.recentRuns[0], human: 'maybe' }] } },
        { type: 'sidebar', state: { ...good, kpis: { ...good.kpis, runs: '3' } } },
        {
          type: 'dashboard',
          state: { ...dashboardState(), history: { ...dashboardState().history, runs: ['1'] } },
        },
        { type: 'training', progress: { ...TRAINING, loss: 'low' } },
        { type: 'training' },
      ];
      for (const message of bad)
        assert.equal(readHostMessage(message), undefined, JSON.stringify(message)?.slice(0, 200));
      assert.equal(warnings.length, bad.length);
      assert.match(warnings[3] ?? '', /type "unknown"/);
    });
  });
});
