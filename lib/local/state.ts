import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Extraction state (watermarks, manifests) kept beside the raw zone, at the same keys the cloud jobs
 * use in the raw bucket: `_state/<source>/<name>.json`. Athena and Glue skip `_`-prefixed folders.
 */
export function statePath(lakeRoot: string, source: string, name: string): string {
  return join(lakeRoot, 'raw', '_state', source, `${name}.json`);
}

export function readState<T>(lakeRoot: string, source: string, name: string): T | undefined {
  const path = statePath(lakeRoot, source, name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Writes atomically: a crash leaves either the old state or the new one, never half a file. */
export function writeState(lakeRoot: string, source: string, name: string, value: unknown): void {
  writeFileAtomically(statePath(lakeRoot, source, name), `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes a small file aside and renames it into place (creating its folder): a process killed at any
 * instant leaves the old file or the new one, never half of one.
 */
export function writeFileAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}
