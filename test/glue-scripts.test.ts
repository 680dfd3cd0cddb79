import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawMysqlCustomers,
  rawMysqlKeys,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
} from '../lib/schema/tables.js';
import type { TableSchema } from '../lib/schema/types.js';

/*
 * The PySpark Glue jobs in glue-scripts/ are checked with Python itself: they compile, pass pyflakes
 * (Debian's python3-pyflakes, installed by scripts/setup.sh), their unit tests pass, and the raw
 * columns they write are those of lib/schema/tables.ts.
 */

const SCRIPTS = 'glue-scripts';
// Bytecode goes to a temporary folder, so running the checks leaves no __pycache__ in the tree (or
// in the assets CDK ships).
const env = {
  ...process.env,
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONPYCACHEPREFIX: mkdtempSync(join(tmpdir(), 'pyc-')),
};

function run(command: string, args: readonly string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8', env, timeout: 120_000 });
  const output = `$ ${command} ${args.join(' ')}\n${result.error?.message ?? ''}${result.stdout}${result.stderr}`;
  return { status: result.status, stdout: result.stdout, output };
}

const pythonFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === '__pycache__' ? [] : pythonFiles(path);
    return entry.name.endsWith('.py') ? [path] : [];
  });

describe('Glue job scripts', () => {
  const files = pythonFiles(SCRIPTS);

  it('include the three jobs, the shared module and their tests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        join(SCRIPTS, 'extract_mysql.py'),
        join(SCRIPTS, 'extract_dynamodb.py'),
        join(SCRIPTS, 'land_history.py'),
        join(SCRIPTS, 'common', 'c360_glue.py'),
        join(SCRIPTS, 'tests', 'test_extract_mysql.py'),
      ]),
    );
  });

  it('compile', () => {
    const { status, output } = run('python3', ['-m', 'py_compile', ...files]);
    expect(status, output).toBe(0);
  });

  it('pass pyflakes', () => {
    const { status, output } = run('/usr/bin/python3', ['-m', 'pyflakes', SCRIPTS]);
    expect(status, output).toBe(0);
  });

  it('pass their unit tests', () => {
    const { status, output } = run('python3', ['-m', 'unittest', 'discover', '-s', join(SCRIPTS, 'tests')]);
    expect(status, output).toBe(0);
    expect(output).toMatch(/Ran [1-9]\d* tests/);
  });
});

describe('Glue job scripts and the schema', () => {
  const dump = run('python3', [
    '-c',
    [
      'import json, sys',
      `sys.path[:0] = ["${SCRIPTS}", "${SCRIPTS}/common"]`,
      'import extract_dynamodb, extract_mysql, land_history',
      'print(json.dumps({',
      '  "mysql": extract_mysql.RAW_TABLES, "mysql_keys": extract_mysql.PRIMARY_KEYS,',
      '  "mysql_key_scan": {"location": extract_mysql.KEYS_LOCATION, "columns": extract_mysql.KEY_COLUMNS},',
      '  "dynamodb": {"location": extract_dynamodb.RAW_LOCATION, "columns": extract_dynamodb.RAW_COLUMNS},',
      '  "history": {"location": land_history.RAW_LOCATION, "columns": land_history.RAW_COLUMNS},',
      '}))',
    ].join('\n'),
  ]);
  // Parsed inside the tests, so that a failure shows the Python output rather than a JSON error.
  const scripts = () => {
    expect(dump.status, dump.output).toBe(0);
    return JSON.parse(dump.stdout);
  };
  const declared = (table: TableSchema) => ({
    location: table.location,
    columns: table.columns.map((c) => [c.name, c.type]),
  });

  it('write the columns of the raw tables, in order, to their locations', () => {
    const { mysql, mysql_key_scan: keyScan, dynamodb, history } = scripts();
    expect(mysql).toEqual({
      customers: declared(rawMysqlCustomers),
      products: declared(rawMysqlProducts),
      orders: declared(rawMysqlOrders),
      order_items: declared(rawMysqlOrderItems),
    });
    expect(keyScan).toEqual(declared(rawMysqlKeys));
    expect(dynamodb).toEqual(declared(rawDynamodbInteractions));
    expect(history).toEqual(declared(rawHistoryOrders));
  });

  it('read MySQL columns and primary keys that the source contract declares', () => {
    const sql = readFileSync('lib/sources/mysql-schema.sql', 'utf8');
    const { mysql, mysql_keys: keys } = scripts();
    expect(Object.keys(mysql)).toEqual(['customers', 'products', 'orders', 'order_items']);
    for (const [table, { columns }] of Object.entries<{ columns: [string, string][] }>(mysql)) {
      const body =
        new RegExp(`CREATE TABLE IF NOT EXISTS ${table} \\(([\\s\\S]*?)\\n\\);`).exec(sql)?.[1] ?? '';
      const sourceColumns = [...body.matchAll(/^\s{2}(\w+)\s+[A-Z]/gm)].map((m) => m[1]);
      const extracted = columns.map(([name]) => name).filter((name) => name !== 'ingested_at');
      expect(sourceColumns, table).toEqual(expect.arrayContaining(extracted));
      const primaryKey = /PRIMARY KEY \(([^)]+)\)/
        .exec(body)?.[1]
        ?.split(',')
        .map((c) => c.trim());
      expect(keys[table], table).toEqual(primaryKey);
    }
  });
});
