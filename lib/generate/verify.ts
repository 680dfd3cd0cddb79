import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Manifest } from './manifest.js';
import { connectMysql, type MysqlConnectionInfo } from './mysql.js';
import { MYSQL_TABLES } from './rows.js';

export interface LoadedCounts {
  mysql?: Record<string, number>;
  dynamodb?: number;
  history?: Record<string, number>;
}

/** Counts what is in the targets, to compare with a manifest after loading. */
export async function countLoaded(targets: {
  mysql?: MysqlConnectionInfo;
  dynamodb?: { client: DynamoDBClient; tableName: string };
  historyDir?: string;
}): Promise<LoadedCounts> {
  const counts: LoadedCounts = {};
  if (targets.mysql) {
    const conn = await connectMysql(targets.mysql);
    try {
      counts.mysql = {};
      for (const table of MYSQL_TABLES) {
        const [rows] = await conn.query<import('mysql2/promise').RowDataPacket[]>(
          `SELECT COUNT(*) AS n FROM \`${table}\``,
        );
        counts.mysql[table] = Number(rows[0]?.n);
      }
    } finally {
      await conn.end();
    }
  }
  if (targets.dynamodb) {
    let total = 0;
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await targets.dynamodb.client.send(
        new ScanCommand({ TableName: targets.dynamodb.tableName, Select: 'COUNT', ExclusiveStartKey: start }),
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    counts.dynamodb = total;
  }
  if (targets.historyDir) {
    counts.history = {};
    for (const file of readdirSync(targets.historyDir)
      .filter((f) => f.endsWith('.csv'))
      .sort()) {
      const text = readFileSync(join(targets.historyDir, file), 'utf8');
      counts.history[file] = text.split('\n').filter((l) => l.length > 0).length - 1;
    }
  }
  return counts;
}

/** Differences between loaded counts and the manifest, one line each; empty when they agree. */
export function compareWithManifest(manifest: Manifest, counts: LoadedCounts): string[] {
  const problems: string[] = [];
  if (counts.mysql) {
    for (const [table, n] of Object.entries(counts.mysql)) {
      const expected = manifest.counts.mysql[table as keyof Manifest['counts']['mysql']];
      if (n !== expected) problems.push(`mysql.${table}: ${n} rows, manifest says ${expected}`);
    }
  }
  if (counts.dynamodb !== undefined && counts.dynamodb !== manifest.counts.dynamodb.items) {
    problems.push(`dynamodb: ${counts.dynamodb} items, manifest says ${manifest.counts.dynamodb.items}`);
  }
  if (counts.history) {
    const expected = manifest.counts.history.files;
    for (const file of new Set([...Object.keys(counts.history), ...Object.keys(expected)])) {
      if (counts.history[file] !== expected[file]) {
        problems.push(
          `history ${file}: ${counts.history[file] ?? 0} rows, manifest says ${expected[file] ?? 0}`,
        );
      }
    }
  }
  return problems;
}
