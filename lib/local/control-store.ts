import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ControlStore, Executions } from '../pipeline/run-control.js';
import { writeFileAtomically } from './state.js';

const etagOf = (body: string) => createHash('sha256').update(body).digest('hex');

/**
 * The run-control objects as files under the analytics zone folder (`_control/...`, the same keys as in
 * S3). Compare-and-swap compares content hashes; it is exact within one process, and the workspace lock
 * keeps a second process out, so this is as strict as S3's conditional writes are for the cloud.
 */
export function folderControlStore(zoneRoot: string): ControlStore {
  const path = (key: string) => join(zoneRoot, key);
  return {
    async read(key) {
      try {
        const body = readFileSync(path(key), 'utf8');
        return { body, etag: etagOf(body) };
      } catch {
        return undefined;
      }
    },
    async write(key, body, expectedEtag) {
      const file = path(key);
      let current: string | undefined;
      try {
        current = etagOf(readFileSync(file, 'utf8'));
      } catch {
        current = undefined;
      }
      if (current !== expectedEtag) return false;
      writeFileAtomically(file, body);
      return true;
    },
    async list(prefix) {
      const dir = path(prefix);
      try {
        return readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
          .map((e) => relative(zoneRoot, join(e.parentPath, e.name)))
          .sort();
      } catch {
        return [];
      }
    },
    async delete(key) {
      rmSync(path(key), { force: true });
    },
  };
}

interface Running {
  readonly startTime: string;
  readonly input: unknown;
}

/**
 * The executions running in this process. Another process cannot run on the same workspace (the
 * workspace lock), so an execution not listed here has ended: its claims are stale.
 */
export class LocalExecutions implements Executions {
  private static readonly running = new Map<string, Running>();

  static started(executionId: string, startTime: string, input: unknown): void {
    LocalExecutions.running.set(executionId, { startTime, input });
  }

  static ended(executionId: string): void {
    LocalExecutions.running.delete(executionId);
  }

  async listRunning() {
    return [...LocalExecutions.running].map(([executionId, r]) => ({ executionId, ...r }));
  }

  async isRunning(executionId: string) {
    return LocalExecutions.running.has(executionId);
  }
}
