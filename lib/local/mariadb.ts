import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** Where Debian's mariadb-server puts its binaries. */
const SERVER_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'];
const INSTALL_DB_CANDIDATES = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'];

export const MARIADB_INSTALL_HINT = 'Install it with: sudo apt-get install -y mariadb-server (Debian/Ubuntu)';

export interface MariaDbConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface LocalMariaDbOptions {
  /**
   * Database created for the caller.
   * @default 'retail'
   */
  readonly database?: string;
  /**
   * Seconds to wait for the server to accept connections before giving up.
   * @default 60
   */
  readonly startTimeoutSeconds?: number;
}

/**
 * A throwaway MariaDB server: its own data folder under the OS temp folder, its own loopback port,
 * a user with a password (as a real RDS would have), stopped and deleted by `stop()` or on process
 * exit. Uses Debian's mariadb-server binaries; says how to install them if they are missing.
 */
export class LocalMariaDb {
  private constructor(
    readonly connection: MariaDbConnectionInfo,
    private readonly process: ChildProcess,
    private readonly dataDir: string,
    private readonly removeExitHook: () => void,
  ) {}

  static async start(options: LocalMariaDbOptions = {}): Promise<LocalMariaDb> {
    const server = SERVER_CANDIDATES.find((p) => existsSync(p));
    const installDb = INSTALL_DB_CANDIDATES.find((p) => existsSync(p));
    if (!server || !installDb) {
      throw new Error(
        `MariaDB server binaries not found (looked for ${SERVER_CANDIDATES[0]}). ${MARIADB_INSTALL_HINT}`,
      );
    }
    const database = options.database ?? 'retail';
    const dataDir = mkdtempSync(join(tmpdir(), 'c360-mariadb-'));
    const socket = join(dataDir, 'mysqld.sock');
    const user = process.getuid?.() === 0 ? ['--user=root'] : [];
    try {
      await run(installDb, [
        '--no-defaults',
        `--datadir=${join(dataDir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...user,
      ]);
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`mariadb-install-db failed: ${(error as Error).message}`);
    }

    const port = await freePort();
    const child = spawn(
      server,
      [
        '--no-defaults',
        `--datadir=${join(dataDir, 'data')}`,
        `--socket=${socket}`,
        `--pid-file=${join(dataDir, 'mysqld.pid')}`,
        `--log-error=${join(dataDir, 'error.log')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        '--local-infile=1',
        '--innodb-buffer-pool-size=256M',
        '--innodb-flush-log-at-trx-commit=2',
        '--skip-log-bin',
        ...user,
      ],
      { stdio: 'ignore' },
    );
    const cleanup = () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    };
    process.once('exit', cleanup);
    const removeExitHook = () => process.removeListener('exit', cleanup);

    const password = 'local-only-password';
    const deadline = Date.now() + (options.startTimeoutSeconds ?? 60) * 1000;
    for (;;) {
      if (child.exitCode !== null) {
        const log = readTail(join(dataDir, 'error.log'));
        cleanup();
        removeExitHook();
        throw new Error(`MariaDB exited during start-up (code ${child.exitCode}):\n${log}`);
      }
      try {
        const admin = await mysql.createConnection({ socketPath: socket, user: 'root' });
        await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
        await admin.query(`CREATE USER IF NOT EXISTS 'customer360'@'%' IDENTIFIED BY '${password}'`);
        await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO 'customer360'@'%'`);
        await admin.end();
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          const log = readTail(join(dataDir, 'error.log'));
          cleanup();
          removeExitHook();
          throw new Error(`MariaDB did not accept connections in time: ${(error as Error).message}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return new LocalMariaDb(
      { host: '127.0.0.1', port, user: 'customer360', password, database },
      child,
      dataDir,
      removeExitHook,
    );
  }

  /** Stops the server and deletes its data folder. */
  async stop(): Promise<void> {
    this.removeExitHook();
    if (this.process.exitCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGTERM');
      const timeout = new Promise((resolve) => setTimeout(resolve, 15_000).unref());
      await Promise.race([exited, timeout]);
      if (this.process.exitCode === null) this.process.kill('SIGKILL');
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function readTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}
