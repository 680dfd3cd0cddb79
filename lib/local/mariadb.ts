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
 *
 * `kill()` and `restart()` take the server down and bring it back on the same data folder and port,
 * so tests can cut a client's connection the way a crashed or failed-over database does.
 */
export class LocalMariaDb {
  private constructor(
    readonly connection: MariaDbConnectionInfo,
    private readonly serverBinary: string,
    private readonly dataDir: string,
    private readonly startTimeoutSeconds: number,
    private readonly removeExitHook: () => void,
    /** Shared with the exit hook, which must kill the process a restart() put in place. */
    private readonly running: { process?: ChildProcess },
  ) {}

  private get process(): ChildProcess {
    if (!this.running.process) throw new Error('LocalMariaDb has no server process');
    return this.running.process;
  }

  static async start(options: LocalMariaDbOptions = {}): Promise<LocalMariaDb> {
    const server = SERVER_CANDIDATES.find((p) => existsSync(p));
    const installDb = INSTALL_DB_CANDIDATES.find((p) => existsSync(p));
    if (!server || !installDb) {
      throw new Error(
        `MariaDB server binaries not found (looked for ${SERVER_CANDIDATES[0]}). ${MARIADB_INSTALL_HINT}`,
      );
    }
    const database = options.database ?? 'retail';
    const startTimeoutSeconds = options.startTimeoutSeconds ?? 60;
    const dataDir = mkdtempSync(join(tmpdir(), 'c360-mariadb-'));
    try {
      await run(installDb, [
        '--no-defaults',
        `--datadir=${join(dataDir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...runAsUser(),
      ]);
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`mariadb-install-db failed: ${(error as Error).message}`);
    }

    const port = await freePort();
    const running: { process?: ChildProcess } = {};
    const cleanup = () => {
      if (running.process && running.process.exitCode === null) running.process.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    };
    process.once('exit', cleanup);
    const removeExitHook = () => process.removeListener('exit', cleanup);

    const password = 'local-only-password';
    try {
      running.process = await launch(server, dataDir, port, startTimeoutSeconds, async (admin) => {
        await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
        await admin.query(`CREATE USER IF NOT EXISTS 'customer360'@'%' IDENTIFIED BY '${password}'`);
        await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO 'customer360'@'%'`);
      });
    } catch (error) {
      cleanup();
      removeExitHook();
      throw error;
    }
    return new LocalMariaDb(
      { host: '127.0.0.1', port, user: 'customer360', password, database },
      server,
      dataDir,
      startTimeoutSeconds,
      removeExitHook,
      running,
    );
  }

  /** The server's process id, for tests that take it down from outside. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /**
   * Sends the server a signal and waits until it has exited, keeping its data folder for `restart()`.
   * SIGKILL (the default) is a crash: connections drop without a word. SIGTERM is a clean shutdown:
   * MariaDB kills running queries and closes connections.
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill(signal);
    await exited;
  }

  /**
   * Starts the server again on the same data folder and port (killing it first if it still runs) and
   * waits until it accepts connections. InnoDB recovers whatever a crash left half-written.
   */
  async restart(): Promise<void> {
    await this.kill();
    this.running.process = await launch(
      this.serverBinary,
      this.dataDir,
      this.connection.port,
      this.startTimeoutSeconds,
      async () => {},
    );
  }

  /** Stops the server and deletes its data folder. */
  async stop(): Promise<void> {
    this.removeExitHook();
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGTERM');
      const timeout = new Promise((resolve) => setTimeout(resolve, 15_000).unref());
      await Promise.race([exited, timeout]);
      if (this.process.exitCode === null) this.process.kill('SIGKILL');
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function runAsUser(): string[] {
  return process.getuid?.() === 0 ? ['--user=root'] : [];
}

/**
 * Spawns mysqld on `dataDir` and `port`, waits until root can connect over the socket and runs
 * `setup` on that admin connection. Kills the process and says why if it never gets there.
 */
async function launch(
  server: string,
  dataDir: string,
  port: number,
  startTimeoutSeconds: number,
  setup: (admin: mysql.Connection) => Promise<void>,
): Promise<ChildProcess> {
  const socket = join(dataDir, 'mysqld.sock');
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
      ...runAsUser(),
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + startTimeoutSeconds * 1000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `MariaDB exited during start-up (${child.signalCode ?? `code ${child.exitCode}`}):\n${readTail(join(dataDir, 'error.log'))}`,
      );
    }
    let admin: mysql.Connection | undefined;
    try {
      admin = await mysql.createConnection({ socketPath: socket, user: 'root' });
      // A server that dies under the admin connection must not crash the process with an
      // unhandled 'error' event; the failing query reports it.
      admin.on('error', () => {});
      await setup(admin);
      await admin.end();
      return child;
    } catch (error) {
      admin?.destroy();
      if (Date.now() > deadline) {
        const log = readTail(join(dataDir, 'error.log'));
        if (child.exitCode === null) child.kill('SIGKILL');
        throw new Error(`MariaDB did not accept connections in time: ${(error as Error).message}\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function readTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}
