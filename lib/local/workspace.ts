import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { registerPublishedViews } from './athena.js';
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
  };
  for (const dir of [workspace.lake, workspace.historyDir, workspace.runsDir, workspace.tempDir]) {
    mkdirSync(dir, { recursive: true });
  }
  return workspace;
}

/** DuckDB over the workspace's lake, with every table and published `latest` view registered. */
export async function openWorkspaceEngine(
  workspace: Workspace,
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const engine = await openLocalEngine({ tempDirectory: workspace.tempDir });
  await prepareEngine(engine.connection);
  await registerLake(engine.connection, workspace.lake);
  await registerPublishedViews(engine.connection, workspace.lake);
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
