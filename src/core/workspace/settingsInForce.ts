// The settings in force, key by key: the defaults merged with `.agent/learning-config.json`, each marked with where
// its value comes from and described from the schema; as a commented JSON document; and resetting one key to its
// default by a minimal edit of the file's text.

import { findNodeAtLocation, modify, parse, parseTree, type Edit, type ParseError } from 'jsonc-parser';
import { ConfigError } from '../errors';
import * as fs from 'node:fs';
import { configJsonSchema, defaultConfig, parseConfigText, position, type LearningConfig } from './config';

/** Where a value in force comes from; `lastValid`: the file is invalid, and its last valid version stays in force. */
export type SettingSource = 'file' | 'default' | 'lastValid';

export interface Setting {
  /** Dotted, e.g. `autoTrain.minExamples`. */
  key: string;
  /** The key's path in the file: `['autoTrain', 'minExamples']`, or `['enabled']` for a top-level key. */
  path: string[];
  /** In force; undefined for an optional key left unset. */
  value: unknown;
  defaultValue: unknown;
  source: SettingSource;
  /** Whether the file sets the key (valid or not): then Reset applies to it. */
  setInFile: boolean;
  /** Where the file sets it (1-based), to open the file there. */
  at?: { line: number; column: number };
  /** From the schema: what it does, its range and its unit. */
  description: string;
  /** Why the file's value is invalid, when the error names this key. */
  issue?: string;
}

export interface SettingsSection {
  /** The file's key (`autoTrain`); '' for the top-level keys. */
  name: string;
  description: string;
  settings: Setting[];
}

export interface SettingsInForce {
  sections: SettingsSection[];
  /** What is wrong with the file; its values are then the last valid ones, which stay in force. */
  error: ConfigError | undefined;
  fileExists: boolean;
}

interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  /** `{ not: {} }`: a key the file may not set (the gateway's user-only settings). */
  not?: unknown;
}

interface KeyDescription {
  path: string[];
  description: string;
}

let described: { sections: { name: string; description: string; keys: KeyDescription[] }[] } | undefined;

/** The file's keys, in the schema's order, with their descriptions (the schema is generated once: it never changes). */
function schemaKeys(): NonNullable<typeof described> {
  if (described) return described;
  const root = configJsonSchema() as SchemaNode;
  const top: KeyDescription[] = [];
  const sections: { name: string; description: string; keys: KeyDescription[] }[] = [];
  for (const [name, node] of Object.entries(root.properties ?? {})) {
    if (name === '$schema' || node.not !== undefined) continue;
    if (node.type === 'object' && node.properties) {
      sections.push({
        name,
        description: node.description ?? '',
        keys: Object.entries(node.properties)
          .filter(([, child]) => child.not === undefined)
          .map(([key, child]) => ({ path: [name, key], description: child.description ?? '' })),
      });
    } else {
      top.push({ path: [name], description: node.description ?? '' });
    }
  }
  described = { sections: [{ name: '', description: 'Top-level settings.', keys: top }, ...sections] };
  return described;
}

/**
 * The settings in force given the file's text (undefined: there is no file) and the configuration last read as
 * valid, which stays in force while the file is invalid. An invalid file is reported with its issues, never shown
 * as defaults.
 */
export function settingsInForce(
  file: string,
  text: string | undefined,
  lastValid: LearningConfig,
): SettingsInForce {
  let config: LearningConfig = defaultConfig();
  let error: ConfigError | undefined;
  if (text !== undefined) {
    try {
      config = parseConfigText(text, file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      error = err;
      config = lastValid;
    }
  }
  return assemble(config, error, text);
}

function assemble(
  config: LearningConfig,
  error: ConfigError | undefined,
  text: string | undefined,
): SettingsInForce {
  const defaults = defaultConfig();
  const root = text === undefined ? undefined : parseTree(text, [], { allowTrailingComma: true });
  const issues = new Map<string, string>();
  for (const issue of error?.issues ?? []) if (!issues.has(issue.key)) issues.set(issue.key, issue.reason);
  const sections = schemaKeys().sections.map((section) => ({
    name: section.name,
    description: section.description,
    settings: section.keys.map(({ path, description }): Setting => {
      const key = path.join('.');
      const issue = issues.get(key);
      // The property node's offset is where its name starts: the place to put the cursor.
      const node = root && findNodeAtLocation(root, path)?.parent;
      return {
        key,
        path,
        value: valueAt(config, path),
        defaultValue: valueAt(defaults, path),
        source: error ? 'lastValid' : node ? 'file' : 'default',
        setInFile: node !== undefined,
        ...(node && text !== undefined ? { at: position(text, node.offset) } : {}),
        description,
        ...(issue !== undefined ? { issue } : {}),
      };
    }),
  }));
  return { sections, error, fileExists: error !== undefined || text !== undefined };
}

/**
 * `settingsInForce` of the file as it is on disk, read as the pipeline reads it: a missing file means defaults,
 * one that cannot be read is an error.
 */
export function readSettingsInForce(file: string, lastValid: LearningConfig): SettingsInForce {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return settingsInForce(file, undefined, lastValid);
    const reason = `cannot read the file (${(err as Error).message})`;
    return assemble(lastValid, new ConfigError(file, [{ key: '', reason }]), undefined);
  }
  return settingsInForce(file, text, lastValid);
}

/**
 * The keys the file's text sets, as paths: each member of an object section, and each other top-level key (unknown
 * ones included, so that a typo can be reset too). Read leniently: an invalid file still has keys to reset.
 */
export function keysSetInFile(text: string): string[][] {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true });
  if (!isObject(value)) return [];
  const sections = new Set(schemaKeys().sections.map((s) => s.name));
  const keys: string[][] = [];
  for (const [name, member] of Object.entries(value)) {
    if (name === '$schema') continue;
    if (sections.has(name) && isObject(member)) keys.push(...Object.keys(member).map((key) => [name, key]));
    else keys.push([name]);
  }
  return keys;
}

/**
 * The edits that remove `path` from the file's text, so that its default applies: only the property and its comma
 * go; every other byte (indentation, line ends, key order, the other keys) stays as the user wrote it. A section
 * left empty goes too. None when the text does not set the key.
 */
export function resetSettingEdits(text: string, path: readonly string[]): Edit[] {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const value = root && path.length > 0 ? findNodeAtLocation(root, [...path]) : undefined;
  if (!root || !value) return [];
  const section = path.length > 1 ? findNodeAtLocation(root, [path[0]!]) : undefined;
  const target = section?.type === 'object' && section.children?.length === 1 ? [path[0]!] : [...path];
  const property = findNodeAtLocation(root, target)?.parent;
  const siblings = property?.parent?.children ?? [];
  // The first of several: from its name to the next one's, so the line break and indentation before it stay (jsonc-
  // parser would cut from the brace, joining the next key to it).
  if (property && siblings[0] === property && siblings[1])
    return [{ offset: property.offset, length: siblings[1].offset - property.offset, content: '' }];
  // No formatting options: with them jsonc-parser re-indents the edited range; without, it only cuts (from the end
  // of the previous value, its comma included).
  return modify(text, target, undefined, {});
}

/**
 * The settings as a JSON-with-comments document: every value in force, each marked `// file` or `// default` (or
 * the reason the file's value is invalid), optional keys left unset as comments; each section under its description.
 */
export function settingsDocument(settings: SettingsInForce, fileLabel: string): string {
  const lines: string[] = [
    `// Settings in force: the defaults merged with ${fileLabel}. Read-only: edit the file to change them.`,
  ];
  if (!settings.fileExists) lines.push(`// There is no ${fileLabel}: every setting is at its default.`);
  if (settings.error) {
    lines.push(`// ${fileLabel} is invalid; its last valid settings stay in force until it is fixed:`);
    for (const issue of settings.error.issues) {
      const at = issue.line ? ` (line ${issue.line})` : '';
      lines.push(`//   ${issue.key || '(file)'}${at}: ${oneLine(issue.reason)}`);
    }
  }
  const members: Member[] = settings.sections.flatMap((section): Member[] =>
    section.name
      ? [{ name: section.name, about: section.description, members: section.settings.map(settingMember) }]
      : section.settings.map(settingMember),
  );
  lines.push('{', ...objectLines(members, '  '), '}', '');
  return lines.join('\n');
}

type Member =
  { name: string; value: unknown; comment: string } | { name: string; about: string; members: Member[] };

function settingMember(setting: Setting): Member {
  const comment = [
    setting.source === 'lastValid' ? 'last valid value' : setting.source,
    ...(setting.issue !== undefined ? [`the file's value is invalid: ${oneLine(setting.issue)}`] : []),
  ].join('; ');
  return { name: setting.path[setting.path.length - 1]!, value: setting.value, comment };
}

/** JSON allows no comma after an object's last member: an unset key, written as a comment, is no member. */
function objectLines(members: Member[], indent: string): string[] {
  const present = members.filter((m) => !('value' in m) || m.value !== undefined);
  const lastPresent = present[present.length - 1];
  return members.flatMap((m): string[] => {
    const comma = m === lastPresent || !present.includes(m) ? '' : ',';
    const name = JSON.stringify(m.name);
    if ('members' in m) {
      return [
        `${indent}// ${oneLine(m.about)}`,
        `${indent}${name}: {`,
        ...objectLines(m.members, `${indent}  `),
        `${indent}}${comma}`,
      ];
    }
    if (m.value === undefined) return [`${indent}// ${name}: unset (${m.comment})`];
    return [`${indent}${name}: ${JSON.stringify(m.value)}${comma} // ${m.comment}`];
  });
}

function valueAt(config: LearningConfig, path: readonly string[]): unknown {
  let value: unknown = config;
  for (const part of path) value = isObject(value) && Object.hasOwn(value, part) ? value[part] : undefined;
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
