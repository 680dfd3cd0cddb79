import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface LocalEngineOptions {
  /**
   * Folder for DuckDB's spill files, so joins larger than memory spill instead of failing.
   * @default '<lakeRoot>/.tmp' when a lake root is given, else the OS temp folder
   */
  readonly tempDirectory?: string;
  /**
   * DuckDB memory limit.
   * @default '4GB'
   */
  readonly memoryLimit?: string;
  /**
   * Worker threads.
   * @default 2
   */
  readonly threads?: number;
}

/** An in-memory DuckDB with bounded memory and an explicit spill folder: the local Athena. */
export async function openLocalEngine(
  options: LocalEngineOptions = {},
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const tempDirectory = options.tempDirectory ?? join(process.env.TMPDIR ?? '/tmp', 'customer360-duckdb');
  mkdirSync(tempDirectory, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit ?? '4GB',
    temp_directory: tempDirectory,
    threads: String(options.threads ?? 2),
  });
  const connection = await connectLocal(instance);
  return { instance, connection };
}

/** Another connection to the local engine, set up as Athena's sessions are (UTC). */
export async function connectLocal(instance: DuckDBInstance): Promise<DuckDBConnection> {
  const connection = await instance.connect();
  // Athena's session zone is UTC: zone-less times must mean the same on a laptop in Paris.
  await connection.run("LOAD icu; SET TimeZone = 'UTC'");
  return connection;
}
