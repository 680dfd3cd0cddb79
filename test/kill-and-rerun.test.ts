import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../lib/local/demo.js';
import { openWorkspaceEngine, type Workspace, workspaceAt } from '../lib/local/workspace.js';
import { analyticsTables } from '../lib/schema/tables.js';

/*
 * The operator's worst day, for real: `c360 run` is a separate process, killed with SIGKILL (no
 * cleanup, no catch) at the start of each phase. The published views must not change at all while a
 * run has not passed its gate, every command must still work afterwards, and a rerun must give the
 * same analytics as the uninterrupted run.
 */
const PROJECT = join(import.meta.dirname, '..');
const views = analyticsTables.filter((t) => t.partitionKeys.length > 0).map((t) => `${t.name}_latest`);

/** Per view: rows and a content hash without the run id, and which run it shows. */
async function fingerprint(workspace: Workspace): Promise<{ content: string[]; runs: string[] }> {
  const { instance, connection } = await openWorkspaceEngine(workspace);
  try {
    const content: string[] = [];
    const runs: string[] = [];
    for (const view of views) {
      const reader = await connection.runAndReadAll(
        `SELECT count(*) AS n, md5(coalesce(string_agg(CAST(r AS VARCHAR), '|' ORDER BY CAST(r AS VARCHAR)), '')) AS h
         FROM (SELECT * EXCLUDE (run_id) FROM analytics.${view}) AS r`,
      );
      const row = reader.getRowObjectsJson()[0] ?? {};
      content.push(`${view}:${row.n}:${row.h}`);
      const shown = await connection.runAndReadAll(
        `SELECT string_agg(DISTINCT run_id, ',') AS runs FROM analytics.${view}`,
      );
      runs.push(`${view}:${shown.getRowObjectsJson()[0]?.runs}`);
    }
    return { content, runs };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function startRun(
  workspace: Workspace,
  runDate: string,
  extra: readonly string[] = [],
): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(PROJECT, 'bin', 'c360.ts'),
      'run',
      '--date',
      runDate,
      '--full',
      '--workspace',
      workspace.root,
      ...extra,
    ],
    { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  return { child, output: () => output };
}

async function killAt(workspace: Workspace, runDate: string, line: RegExp): Promise<string> {
  const { child, output } = startRun(workspace, runDate);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (line.test(output())) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`c360 run exited before ${line}:\n${output()}`));
      }
    }, 20);
  });
  await exited;
  return output();
}

async function runToEnd(
  workspace: Workspace,
  runDate: string,
  extra: readonly string[] = [],
): Promise<{ code: number | null; output: string }> {
  const { child, output } = startRun(workspace, runDate, extra);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, output: output() };
}

describe('kill -9 in any phase, then rerun', () => {
  const workspace = workspaceAt(join(mkdtempSync(join(tmpdir(), 'c360-kill-')), 'w'));
  let runDate: string;
  let published: { content: string[]; runs: string[] };

  beforeAll(async () => {
    const summary = await runDemo({ workspace, customers: 300, seed: 'kill', print: () => undefined });
    expect(summary.status).toBe('SUCCEEDED');
    runDate = summary.runDate ?? '';
    published = await fingerprint(workspace);
  }, 600_000);

  // Progress lines are printed as each state ends; each pattern is the first line of its phase.
  it.each([
    ['extraction', /✓ Begin run/],
    ['stage', /✓ Prepare stage query/],
    ['marts', /✓ Prepare mart query wave 1/],
  ])(
    'leaves the published views exactly as they were when killed in the %s phase',
    async (_phase, line) => {
      await killAt(workspace, runDate, line);

      expect(await fingerprint(workspace)).toEqual(published);
    },
    300_000,
  );

  it('keeps the published content when killed while publishing, and a rerun gives the same analytics', async () => {
    await killAt(workspace, runDate, /✓ Claim publishing/);
    // Some views may already show the killed run, whose data is the same: the content must be.
    expect((await fingerprint(workspace)).content).toEqual(published.content);

    // The killed process left its lock: the next run takes it over, and completes.
    const rerun = await runToEnd(workspace, runDate);

    expect(rerun.output).toContain('Taking over a stale lock');
    expect(rerun.code, rerun.output).toBe(0);
    const after = await fingerprint(workspace);
    expect(after.content).toEqual(published.content);
    // Every view now shows the one rerun.
    expect(new Set(after.runs.map((r) => r.split(':')[1])).size).toBe(1);
    expect(after.runs).not.toEqual(published.runs);
  }, 300_000);

  it('exits with status 1 after a failure, printing the failed checks, and changes nothing published', async () => {
    const config = join(workspace.root, 'strict.json');
    writeFileSync(config, JSON.stringify({ analysis: { maxRejectShare: 0 } }));

    const failed = await runToEnd(workspace, runDate, ['--config', config]);

    expect(failed.code, failed.output).toBe(1);
    expect(failed.output).toContain('Failed at Quality gate failed');
    expect(failed.output).toContain('Failed blocking checks');
    expect(failed.output).toMatch(/ reject_share \/ [\w.]+: value [\d.]+, threshold 0 /);
    // Athena's header row is not a failed check.
    expect(failed.output).not.toMatch(/ check_name \/ /);
    expect(failed.output).toContain('Published data is unchanged');
    expect((await fingerprint(workspace)).content).toEqual(published.content);
  }, 300_000);

  it('exports published results as CSV or JSON, and `c360 --help` is help', async () => {
    const c360 = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT, 'bin', 'c360.ts'), ...args], {
        cwd: PROJECT,
        encoding: 'utf8',
      });
    const sql = 'select count(*) as customers, \'a,"b"\' as label from analytics.customer_360_latest';

    const csv = c360('query', '--workspace', workspace.root, '--format', 'csv', sql);
    const json = c360('query', '--workspace', workspace.root, '--format', 'json', sql);
    const help = c360('--help');

    const customers = (published.content.find((c) => c.startsWith('customer_360_latest:')) ?? '').split(
      ':',
    )[1];
    expect(csv.stdout).toBe(`customers,label\r\n${customers},"a,""b"""\r\n`);
    expect(JSON.parse(json.stdout)).toEqual([{ customers, label: 'a,"b"' }]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage:');
  }, 120_000);
});
