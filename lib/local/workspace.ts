import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ensureLocalViews, registerPublishedViews } from './athena.js';
import { openLocalEngine } from './duckdb.js';
import type { LocalRunSummary } from './pipeline-runner.js';
import { prepareEngine, registerLake } from './sql-runner.js';

/** Where a local installation keeps its lake, outbox and run summaries. */
export interface Workspace {
  readonly root: string;
  readonly lake: string;
  readonly historyDir: string;
  readonly outboxFile: string;
  readonly runsDir: string;
  readonly tempDir: string;
  readonly lockFile: string;
}

export function workspaceAt(root = '.c360'): Workspace {
  const absolute = resolve(root);
  const workspace = {
    root: absolute,
    lake: join(absolute, 'lake'),
    historyDir: join(absolute, 'history'),
    outboxFile: join(absolute, 'outbox.jsonl'),
    runsDir: join(absolute, 'runs'),
    tempDir: join(absolute, 'tmp'),
    lockFile: join(absolute, 'run.lock'),
  };
  for (const dir of [workspace.lake, workspace.historyDir, workspace.runsDir, workspace.tempDir]) {
    mkdirSync(dir, { recursive: true });
  }
  return workspace;
}

/**
 * DuckDB over the workspace's lake, with every table, the published `latest` views (empty ones for
 * tables not yet published) and the `dashboard_*` views registered.
 */
export async function openWorkspaceEngine(
  workspace: Workspace,
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const engine = await openLocalEngine({ tempDirectory: workspace.tempDir });
  await prepareEngine(engine.connection);
  await registerLake(engine.connection, workspace.lake);
  await registerPublishedViews(engine.connection, workspace.lake);
  await ensureLocalViews(engine.connection);
  return engine;
}

/** Run summaries, newest first. */
export function listRuns(workspace: Workspace): LocalRunSummary[] {
  if (!existsSync(workspace.runsDir)) return [];
  return readdirSync(workspace.runsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(workspace.runsDir, f), 'utf8')) as LocalRunSummary)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** A second run on a workspace that another live process is running on. */
export class WorkspaceBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkspaceBusyError';
  }
}

interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the workspace for one run: two runs on one lake would write and register the same tables
 * under each other. A lock left by a process that no longer exists (a crash, kill -9) is taken over.
 * Returns the release function; `notice` hears about a stale lock that was taken over.
 */
export function lockWorkspace(
  workspace: Workspace,
  command: string,
  notice: (line: string) => void = () => undefined,
): () => void {
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command,
  };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(workspace.lockFile, 'wx');
      writeSync(fd, JSON.stringify(holder));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          const current = JSON.parse(readFileSync(workspace.lockFile, 'utf8')) as LockHolder;
          if (current.pid === process.pid) rmSync(workspace.lockFile, { force: true });
        } catch {
          // Already gone.
        }
      };
      process.once('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let other: LockHolder | undefined;
    try {
      other = JSON.parse(readFileSync(workspace.lockFile, 'utf8')) as LockHolder;
    } catch {
      other = undefined; // Half written by a process killed at that instant: stale.
    }
    if (other && (other.host !== hostname() || alive(other.pid))) {
      throw new WorkspaceBusyError(
        `Workspace ${workspace.root} is in use by another run: \`${other.command}\` (pid ${other.pid} on ${other.host}, started ${other.startedAt}). Wait for it to finish, or use another --workspace.`,
      );
    }
    notice(
      `Taking over a stale lock on ${workspace.root}${other ? ` left by pid ${other.pid} (\`${other.command}\`, started ${other.startedAt}), which is no longer running` : ''}.`,
    );
    rmSync(workspace.lockFile, { force: true });
  }
  throw new WorkspaceBusyError(
    `Could not lock workspace ${workspace.root}; another run took it at the same moment.`,
  );
}
