import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockWorkspace, WorkspaceBusyError, workspaceAt } from '../lib/local/workspace.js';

describe('one run at a time per workspace', () => {
  it('refuses a second run while the first holds the workspace, naming it, and frees it on release', () => {
    const workspace = workspaceAt(join(mkdtempSync(join(tmpdir(), 'c360-ws-')), 'w'));
    const release = lockWorkspace(workspace, 'c360 run --date 2026-01-01');

    expect(() => lockWorkspace(workspace, 'c360 run')).toThrow(WorkspaceBusyError);
    expect(() => lockWorkspace(workspace, 'c360 run')).toThrow(
      new RegExp(`in use by another run: \`c360 run --date 2026-01-01\` \\(pid ${process.pid} on `),
    );

    release();
    const again = lockWorkspace(workspace, 'c360 run');
    expect(JSON.parse(readFileSync(workspace.lockFile, 'utf8'))).toMatchObject({ command: 'c360 run' });
    again();
  });

  it('takes over a lock left by a process that no longer exists (a crash, kill -9)', () => {
    const workspace = workspaceAt(join(mkdtempSync(join(tmpdir(), 'c360-ws-')), 'w'));
    // A real pid that has certainly exited: a child that already finished.
    const gone = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    writeFileSync(
      workspace.lockFile,
      JSON.stringify({ pid: gone, host: hostname(), startedAt: 'then', command: 'c360 run' }),
    );
    const notices: string[] = [];

    const release = lockWorkspace(workspace, 'c360 demo', (line) => notices.push(line));

    expect(notices).toEqual([expect.stringContaining(`left by pid ${gone}`)]);
    expect(JSON.parse(readFileSync(workspace.lockFile, 'utf8'))).toMatchObject({ pid: process.pid });
    release();
  });

  it('takes over a lock file that a kill left half written', () => {
    const workspace = workspaceAt(join(mkdtempSync(join(tmpdir(), 'c360-ws-')), 'w'));
    writeFileSync(workspace.lockFile, '{"pid": 12');

    const release = lockWorkspace(workspace, 'c360 run');

    expect(JSON.parse(readFileSync(workspace.lockFile, 'utf8'))).toMatchObject({ pid: process.pid });
    release();
  });
});
