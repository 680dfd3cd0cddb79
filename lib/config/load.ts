import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { legacyIdPatternProblem } from './re2.js';
import { type Customer360Config, configSchema } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'customer360.config.json';

/** Raised for any configuration that does not validate; the message lists every bad key. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One line per problem: the dotted key, the value found, and what was expected. */
export function describeIssues(input: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const parent = issue.path.map(String).join('.');
      return issue.keys.map(
        (key) =>
          `${parent ? `${parent}.` : ''}${key}: unknown key (value ${show(valueAt(input, [...issue.path, key]))}); expected one of the documented keys`,
      );
    }
    const key = issue.path.map(String).join('.') || '(root)';
    const found = show(valueAt(input, issue.path));
    const expected = issue.message
      .replace(/^(Invalid input|Invalid option|Too small|Too big): /, '')
      .replace(/, received \w+$/, '');
    return [`${key}: got ${found}; ${expected.startsWith('expected') ? expected : `expected ${expected}`}`];
  });
}

/** Validates a raw configuration object; `source` names where it came from in error messages. */
export function parseConfig(input: unknown, source = 'configuration'): Customer360Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(source, describeIssues(input ?? {}, result.error.issues));
  return result.data;
}

/**
 * Problems that only the engines' own parsers find: the legacy id pattern against a real RE2. Kept
 * out of the schema so that code parsing an already-validated configuration (the prepare-query
 * Lambda) does not load RE2.
 */
export function engineProblems(config: Customer360Config): string[] {
  const pattern = config.sources.history.legacyIdPattern;
  const problem = pattern === null ? undefined : legacyIdPatternProblem(pattern);
  return problem === undefined ? [] : [`sources.history.legacyIdPattern: got ${show(pattern)}; ${problem}`];
}

/** `parseConfig` plus `engineProblems`: everything a configuration file must pass. */
export function validateConfig(input: unknown, source = 'configuration'): Customer360Config {
  const config = parseConfig(input, source);
  const problems = engineProblems(config);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

/**
 * Reads the configuration file (JSON). A missing default file means "all defaults"; a missing file
 * that was named explicitly is an error.
 */
export function loadConfig(file?: string, cwd = process.cwd()): Customer360Config {
  const path = resolve(cwd, file ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (file !== undefined)
      throw new ConfigError(path, ['file not found; expected a JSON configuration file']);
    return validateConfig({}, 'defaults');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  return validateConfig(raw, path);
}
