import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import type { Customer360ConfigInput } from '../lib/config/schema.js';
import { registerTable, runModel } from '../lib/local/sql-runner.js';
import { martTables } from '../lib/schema/marts/index.js';
import {
  rawDynamodbInteractions,
  rawMysqlKeys,
  rawMysqlOrderItems,
  rawMysqlOrders,
  stageTables,
} from '../lib/schema/tables.js';
import { loadModels } from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * Source deletes in the stage snapshots, on hand-made raw rows (times are UTC; "scan" is the
 * ingested_at of a key scan, taken after the same day's row read at 03:00:00):
 *
 *   2024-06-01  orders 1-4 read at 03:00:00; order lines (1,1), (1,2), and (1,null) without a line
 *               number; key scan at 03:00:05 lists orders 1-4 and lines (1,1), (1,2).
 *               DynamoDB items c1/k1, c1/k2, c2/k3.
 *   2024-06-02  order 5 and order 6 read at 03:00:00; order 8 read at 03:00:10 by a later extraction
 *               that day; key scan at 03:00:05 lists orders 1, 3, 4, 5 and 7 (7 was inserted between
 *               the row read and the scan) and line (1,1). DynamoDB removal of c1/k2.
 *   2024-06-03  order 9 read at 03:00:00; no key scan. DynamoDB c1/k2 written again.
 *
 * By the rule (a key the latest scan among the partitions read lacks is dropped when its latest
 * version was read before that scan):
 *   r1 (06-01, from all of raw)      orders 1,2,3,4; lines (1,1),(1,2),(1,null); items k1,k2,k3
 *   r2 (06-02, from r1)              orders 1,3,4,5,8: 2 (in r1) and 6 (read 03:00:00, not in the
 *                                    scan) dropped; 8 kept (read after the scan); 7 never landed.
 *                                    Lines (1,1),(1,null): (1,2) dropped, the keyless line kept.
 *                                    Items k1,k3: k2's latest write is its removal.
 *                                    source_deletes: order 2, line 1|2, item c1|k2 (6 was never in
 *                                    r1's snapshot).
 *   r3 (06-02, rebuild)              the same snapshots as r2; no base, so no source_deletes
 *   r4 (06-03, from r2)              the 06-02 scan is still the latest: orders 1,3,4,5,8,9 (6 re-read
 *                                    from 06-02 and dropped again); items k1,k2,k3 (k2 written after
 *                                    its removal); source_deletes empty: nothing of r2's snapshot
 *                                    went, so nothing is counted twice.
 *   r5 (06-03, rebuild)              the same snapshots as r4
 */
const order = (orderId: number, ingestedAt: string): FixtureRow => ({
  order_id: orderId,
  customer_id: 9,
  status: 'placed',
  updated_at: '2024-05-31 10:00:00',
  ingested_at: ingestedAt,
});
const line = (orderId: number, lineNumber: number | null, ingestedAt: string): FixtureRow => ({
  order_id: orderId,
  line_number: lineNumber,
  product_id: 3,
  quantity: 1,
  updated_at: '2024-05-31 10:00:00',
  ingested_at: ingestedAt,
});
const orderKey = (orderId: number, scannedAt: string): FixtureRow => ({
  source_table: 'orders',
  order_id: orderId,
  ingested_at: scannedAt,
});
const lineKey = (orderId: number, lineNumber: number, scannedAt: string): FixtureRow => ({
  source_table: 'order_items',
  order_id: orderId,
  line_number: lineNumber,
  ingested_at: scannedAt,
});
const item = (key: string, ingestedAt: string, deleted = false): FixtureRow => {
  const [customer = '', event = ''] = key.split('/');
  return deleted
    ? { customer_key: customer, event_key: event, ingested_at: ingestedAt, is_deleted: true }
    : {
        customer_key: customer,
        event_key: event,
        event_id: `${customer}-${event}`,
        event_type: 'web_visit',
        event_at: '2024-05-30T10:00:00Z',
        ingested_at: ingestedAt,
        is_deleted: false,
      };
};

const SNAPSHOTS = ['snapshot_mysql_orders', 'snapshot_mysql_order_items', 'snapshot_dynamodb_interactions'];

describe('source deletes in the stage snapshots', () => {
  let lake: FixtureLake;
  const models = loadModels();
  const run = async (
    name: string,
    runDate: string,
    runId: string,
    base: { runDate: string; runId: string; rawFromDate: string },
    config: Customer360ConfigInput = {},
  ) => {
    const model = models.get(name);
    if (!model) throw new Error(`no model ${name}`);
    await runModel(
      lake.engine,
      lake.root,
      model,
      models,
      pipelineParameters(parseConfig(config), runDate, runId, base),
    );
  };
  const build = async (
    runDate: string,
    runId: string,
    base: { runDate: string; runId: string; rawFromDate: string },
  ) => {
    for (const name of [...SNAPSHOTS, 'source_deletes']) await run(name, runDate, runId, base);
  };
  const query = async (sql: string) => (await lake.engine.runAndReadAll(sql)).getRowObjectsJson();
  const orders = (runId: string) =>
    query(`SELECT order_id FROM stage.snapshot_mysql_orders WHERE run_id = '${runId}' ORDER BY ALL`).then(
      (rows) => rows.map((r) => Number(r.order_id)),
    );
  const lines = (runId: string) =>
    query(
      `SELECT order_id || '|' || coalesce(CAST(line_number AS VARCHAR), 'null') AS k FROM stage.snapshot_mysql_order_items WHERE run_id = '${runId}' ORDER BY ALL`,
    ).then((rows) => rows.map((r) => r.k));
  const items = (runId: string) =>
    query(
      `SELECT customer_key || '/' || event_key AS k FROM stage.snapshot_dynamodb_interactions WHERE run_id = '${runId}' ORDER BY ALL`,
    ).then((rows) => rows.map((r) => r.k));
  const deletes = (runId: string) =>
    query(`SELECT source_table, record_key FROM stage.source_deletes WHERE run_id = '${runId}' ORDER BY ALL`);

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(
      rawMysqlOrders,
      '2024-06-01',
      [1, 2, 3, 4].map((id) => order(id, '2024-06-01 03:00:00')),
    );
    await lake.write(rawMysqlOrderItems, '2024-06-01', [
      line(1, 1, '2024-06-01 03:00:00'),
      line(1, 2, '2024-06-01 03:00:00'),
      line(1, null, '2024-06-01 03:00:00'),
    ]);
    await lake.write(rawMysqlKeys, '2024-06-01', [
      ...[1, 2, 3, 4].map((id) => orderKey(id, '2024-06-01 03:00:05')),
      lineKey(1, 1, '2024-06-01 03:00:05'),
      lineKey(1, 2, '2024-06-01 03:00:05'),
    ]);
    await lake.write(rawDynamodbInteractions, '2024-06-01', [
      item('c1/k1', '2024-06-01 03:00:00'),
      item('c1/k2', '2024-06-01 03:00:00'),
      item('c2/k3', '2024-06-01 03:00:00'),
    ]);
    await build('2024-06-01', 'r1', { runDate: '2024-06-01', runId: 'r1', rawFromDate: '1970-01-01' });

    await lake.write(rawMysqlOrders, '2024-06-02', [
      order(5, '2024-06-02 03:00:00'),
      order(6, '2024-06-02 03:00:00'),
      order(8, '2024-06-02 03:00:10'),
    ]);
    await lake.write(rawMysqlKeys, '2024-06-02', [
      ...[1, 3, 4, 5, 7].map((id) => orderKey(id, '2024-06-02 03:00:05')),
      lineKey(1, 1, '2024-06-02 03:00:05'),
    ]);
    await lake.write(rawDynamodbInteractions, '2024-06-02', [item('c1/k2', '2024-06-02 03:00:00', true)]);
    await build('2024-06-02', 'r2', { runDate: '2024-06-01', runId: 'r1', rawFromDate: '2024-06-01' });
    await build('2024-06-02', 'r3', { runDate: '2024-06-02', runId: 'r3', rawFromDate: '1970-01-01' });

    await lake.write(rawMysqlOrders, '2024-06-03', [order(9, '2024-06-03 03:00:00')]);
    await lake.write(rawDynamodbInteractions, '2024-06-03', [item('c1/k2', '2024-06-03 03:00:00')]);
    await build('2024-06-03', 'r4', { runDate: '2024-06-02', runId: 'r2', rawFromDate: '2024-06-02' });
    await build('2024-06-03', 'r5', { runDate: '2024-06-03', runId: 'r5', rawFromDate: '1970-01-01' });
    for (const table of stageTables) await registerTable(lake.engine, lake.root, table);
  });

  afterAll(() => lake?.close());

  it('drops the MySQL keys the latest scan lacks, unless read after it', async () => {
    expect(await orders('r1')).toEqual([1, 2, 3, 4]);
    expect(await orders('r2')).toEqual([1, 3, 4, 5, 8]);
    expect(await orders('r3')).toEqual(await orders('r2'));
    expect(await orders('r4')).toEqual([1, 3, 4, 5, 8, 9]);
    expect(await orders('r5')).toEqual(await orders('r4'));
  });

  it('drops composite keys the scan lacks and keeps a line without a key', async () => {
    expect(await lines('r1')).toEqual(['1|1', '1|2', '1|null']);
    expect(await lines('r2')).toEqual(['1|1', '1|null']);
    expect(await lines('r3')).toEqual(await lines('r2'));
    expect(await lines('r4')).toEqual(['1|1', '1|null']);
  });

  it('drops a DynamoDB item whose latest write is its removal, and takes it back when written again', async () => {
    expect(await items('r1')).toEqual(['c1/k1', 'c1/k2', 'c2/k3']);
    expect(await items('r2')).toEqual(['c1/k1', 'c2/k3']);
    expect(await items('r3')).toEqual(await items('r2'));
    expect(await items('r4')).toEqual(['c1/k1', 'c1/k2', 'c2/k3']);
    expect(await items('r5')).toEqual(await items('r4'));
  });

  it('lists the rows of the base snapshot each run deleted, once', async () => {
    expect(await deletes('r1')).toEqual([]);
    expect(await deletes('r2')).toEqual([
      { source_table: 'dynamodb.interactions', record_key: 'c1|k2' },
      { source_table: 'mysql.order_items', record_key: '1|2' },
      { source_table: 'mysql.orders', record_key: '2' },
    ]);
    // a rebuild has no base to compare with
    expect(await deletes('r3')).toEqual([]);
    expect(await deletes('r4')).toEqual([]);
  });

  it('counts them in data_quality and blocks a run that deletes more than the share', async () => {
    const base = { runDate: '2024-06-01', runId: 'r1', rawFromDate: '2024-06-01' };
    // data_quality reads the run's stage tables; those this test does not build are empty
    for (const table of martTables) await registerTable(lake.engine, lake.root, table);
    const checks = async (runId: string, config: Customer360ConfigInput) => {
      await run('data_quality', '2024-06-02', runId, base, config);
      await registerTable(lake.engine, lake.root, martTables.find((t) => t.name === 'data_quality') as never);
      return query(
        `SELECT check_name, subject, metric_value, threshold, is_passed, is_blocking FROM analytics.data_quality
         WHERE run_id = '${runId}' AND check_name IN ('source_deletes', 'deleted_share') ORDER BY check_name, subject`,
      );
    };
    // r2 with the default limit (5%): order 2 of r1's 4 orders is 25%, line 1|2 of 2 lines (the
    // keyless one is not counted) is 50%: both blocking failures.
    const rows = await checks('r2', {});
    expect(rows).toEqual([
      {
        check_name: 'deleted_share',
        subject: 'mysql.customers',
        metric_value: null,
        threshold: 0.05,
        is_passed: true,
        is_blocking: true,
      },
      {
        check_name: 'deleted_share',
        subject: 'mysql.order_items',
        metric_value: 0.5,
        threshold: 0.05,
        is_passed: false,
        is_blocking: true,
      },
      {
        check_name: 'deleted_share',
        subject: 'mysql.orders',
        metric_value: 0.25,
        threshold: 0.05,
        is_passed: false,
        is_blocking: true,
      },
      {
        check_name: 'deleted_share',
        subject: 'mysql.products',
        metric_value: null,
        threshold: 0.05,
        is_passed: true,
        is_blocking: true,
      },
      {
        check_name: 'source_deletes',
        subject: 'dynamodb.interactions',
        metric_value: 1,
        threshold: null,
        is_passed: true,
        is_blocking: false,
      },
      {
        check_name: 'source_deletes',
        subject: 'mysql.customers',
        metric_value: 0,
        threshold: null,
        is_passed: true,
        is_blocking: false,
      },
      {
        check_name: 'source_deletes',
        subject: 'mysql.order_items',
        metric_value: 1,
        threshold: null,
        is_passed: true,
        is_blocking: false,
      },
      {
        check_name: 'source_deletes',
        subject: 'mysql.orders',
        metric_value: 1,
        threshold: null,
        is_passed: true,
        is_blocking: false,
      },
      {
        check_name: 'source_deletes',
        subject: 'mysql.products',
        metric_value: 0,
        threshold: null,
        is_passed: true,
        is_blocking: false,
      },
    ]);
  });
});

describe('sources.mysql.deleteDetection', () => {
  it('defaults to a daily scan and a 5 % limit, and names a bad value', () => {
    expect(parseConfig({}).sources.mysql.deleteDetection).toEqual({ everyDays: 1, maxDeletedShare: 0.05 });
    const bad = (deleteDetection: Record<string, unknown>) => () =>
      parseConfig({ sources: { mysql: { deleteDetection } } } as Customer360ConfigInput);
    expect(bad({ everyDays: 1.5 })).toThrow('sources.mysql.deleteDetection.everyDays: got 1.5; expected int');
    expect(bad({ everyDays: -1 })).toThrow('sources.mysql.deleteDetection.everyDays: got -1');
    expect(bad({ maxDeletedShare: 2 })).toThrow('sources.mysql.deleteDetection.maxDeletedShare: got 2');
    expect(
      parseConfig({ sources: { mysql: { deleteDetection: { everyDays: 0 } } } }).sources.mysql.deleteDetection
        .everyDays,
    ).toBe(0);
  });
});
