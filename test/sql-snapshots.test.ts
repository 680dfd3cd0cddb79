import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { registerTable, runModel } from '../lib/local/sql-runner.js';
import {
  rawDynamodbInteractions,
  rawMysqlOrders,
  snapshotDynamodbInteractions,
  snapshotMysqlOrders,
} from '../lib/schema/tables.js';
import { loadModels } from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';
import { FixtureLake, type FixtureRow } from './helpers/lake.js';

/*
 * The stage snapshot models on a hand-made raw zone. Expected rows are worked out by hand from the
 * rules: DynamoDB, the latest write of each (customer_key, event_key); MySQL, the latest updated_at of
 * each key, then the latest ingested_at; every row without a key kept. Run r1 (2024-06-02) is built from
 * all of raw; run r2 (2024-06-03) from r1's snapshot plus raw from 2024-06-02 (the base date is read
 * again); run r3 (2024-06-03) is a rebuild and must equal r2.
 */
const item = (key: string, eventType: string, ingestedAt: string): FixtureRow => {
  const [customer = '', event = ''] = key.split('/');
  return {
    customer_key: customer,
    event_key: event,
    event_id: `${customer}-${event}`,
    event_type: eventType,
    event_at: '2024-05-30T10:00:00Z',
    item_json: JSON.stringify({ type: eventType }),
    ingested_at: ingestedAt,
  };
};
const order = (
  orderId: number | null,
  status: string,
  updatedAt: string,
  ingestedAt: string,
): FixtureRow => ({
  order_id: orderId,
  customer_id: 9,
  status,
  updated_at: updatedAt,
  ingested_at: ingestedAt,
});

describe('stage snapshots, incremental and rebuilt', () => {
  let lake: FixtureLake;
  const models = loadModels();
  const config = parseConfig({});
  const build = async (
    runDate: string,
    runId: string,
    base: { runDate: string; runId: string; rawFromDate: string },
  ) => {
    for (const name of ['snapshot_dynamodb_interactions', 'snapshot_mysql_orders']) {
      const model = models.get(name);
      if (!model) throw new Error(`no model ${name}`);
      await runModel(lake.engine, lake.root, model, models, pipelineParameters(config, runDate, runId, base));
    }
  };
  const read = async (table: { zone: string; name: string }, runId: string, columns: string) =>
    (
      await lake.engine.runAndReadAll(
        `SELECT ${columns} FROM ${table.zone}.${table.name} WHERE run_id = '${runId}' ORDER BY ALL`,
      )
    ).getRowObjectsJson();

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(rawDynamodbInteractions, '2024-06-01', [
      item('c1/k1', 'web_visit', '2024-06-01 03:00:00'),
      item('c1/k2', 'web_visit', '2024-06-01 03:00:00'),
    ]);
    await lake.write(rawDynamodbInteractions, '2024-06-02', [
      item('c1/k1', 'purchase', '2024-06-02 03:00:00'), // k1 rewritten
      item('c2/k3', 'web_visit', '2024-06-02 03:00:00'),
    ]);
    await lake.write(rawMysqlOrders, '2024-06-01', [
      order(1, 'placed', '2024-06-01 10:00:00', '2024-06-01 03:00:00'),
      order(null, 'keyless x', '2024-06-01 11:00:00', '2024-06-01 03:00:00'),
    ]);
    await lake.write(rawMysqlOrders, '2024-06-02', [
      // the same version of order 1 read again: the later reading wins
      order(1, 'placed (read again)', '2024-06-01 10:00:00', '2024-06-02 03:00:00'),
      order(2, 'placed', '2024-06-02 08:00:00', '2024-06-02 03:00:00'),
    ]);
    await build('2024-06-02', 'r1', { runDate: '2024-06-02', runId: 'r1', rawFromDate: '1970-01-01' });

    // After r1: a late extraction on 2024-06-02, then the extraction of 2024-06-03.
    await lake.write(rawDynamodbInteractions, '2024-06-02', [
      item('c1/k1', 'purchase', '2024-06-02 03:00:00'),
      item('c2/k3', 'web_visit', '2024-06-02 03:00:00'),
      item('c3/k5', 'web_visit', '2024-06-02 23:00:00'), // landed after r1
    ]);
    await lake.write(rawDynamodbInteractions, '2024-06-03', [
      item('c1/k2', 'email_click', '2024-06-03 03:00:00'), // k2 rewritten
      item('c2/k4', 'web_visit', '2024-06-03 03:00:00'),
    ]);
    await lake.write(rawMysqlOrders, '2024-06-03', [
      order(1, 'shipped', '2024-06-02 09:00:00', '2024-06-03 03:00:00'),
      order(null, 'keyless y', '2024-06-03 11:00:00', '2024-06-03 03:00:00'),
    ]);
    await build('2024-06-03', 'r2', { runDate: '2024-06-02', runId: 'r1', rawFromDate: '2024-06-02' });
    await build('2024-06-03', 'r3', { runDate: '2024-06-03', runId: 'r3', rawFromDate: '1970-01-01' });
    await registerTable(lake.engine, lake.root, snapshotDynamodbInteractions);
    await registerTable(lake.engine, lake.root, snapshotMysqlOrders);
  });

  afterAll(() => lake?.close());

  it('keeps the latest write of each DynamoDB item, late files of the base date included', async () => {
    const columns =
      "customer_key || '/' || event_key AS item, event_type, CAST(ingest_date AS VARCHAR) AS ingest_date";
    expect(await read(snapshotDynamodbInteractions, 'r1', columns)).toEqual([
      { item: 'c1/k1', event_type: 'purchase', ingest_date: '2024-06-02' },
      { item: 'c1/k2', event_type: 'web_visit', ingest_date: '2024-06-01' },
      { item: 'c2/k3', event_type: 'web_visit', ingest_date: '2024-06-02' },
    ]);
    const incremental = await read(snapshotDynamodbInteractions, 'r2', columns);
    expect(incremental).toEqual([
      { item: 'c1/k1', event_type: 'purchase', ingest_date: '2024-06-02' },
      { item: 'c1/k2', event_type: 'email_click', ingest_date: '2024-06-03' },
      { item: 'c2/k3', event_type: 'web_visit', ingest_date: '2024-06-02' },
      { item: 'c2/k4', event_type: 'web_visit', ingest_date: '2024-06-03' },
      { item: 'c3/k5', event_type: 'web_visit', ingest_date: '2024-06-02' },
    ]);
    expect(await read(snapshotDynamodbInteractions, 'r3', columns)).toEqual(incremental);
  });

  it('keeps the latest version of each MySQL order, and every row without a key', async () => {
    const columns = 'order_id, status, updated_at, CAST(ingested_at AS VARCHAR) AS ingested_at';
    expect(await read(snapshotMysqlOrders, 'r1', columns)).toEqual([
      {
        order_id: '1',
        status: 'placed (read again)',
        updated_at: '2024-06-01 10:00:00',
        ingested_at: '2024-06-02 03:00:00',
      },
      {
        order_id: '2',
        status: 'placed',
        updated_at: '2024-06-02 08:00:00',
        ingested_at: '2024-06-02 03:00:00',
      },
      {
        order_id: null,
        status: 'keyless x',
        updated_at: '2024-06-01 11:00:00',
        ingested_at: '2024-06-01 03:00:00',
      },
    ]);
    const incremental = await read(snapshotMysqlOrders, 'r2', columns);
    expect(incremental).toEqual([
      {
        order_id: '1',
        status: 'shipped',
        updated_at: '2024-06-02 09:00:00',
        ingested_at: '2024-06-03 03:00:00',
      },
      {
        order_id: '2',
        status: 'placed',
        updated_at: '2024-06-02 08:00:00',
        ingested_at: '2024-06-02 03:00:00',
      },
      {
        order_id: null,
        status: 'keyless x',
        updated_at: '2024-06-01 11:00:00',
        ingested_at: '2024-06-01 03:00:00',
      },
      {
        order_id: null,
        status: 'keyless y',
        updated_at: '2024-06-03 11:00:00',
        ingested_at: '2024-06-03 03:00:00',
      },
    ]);
    expect(await read(snapshotMysqlOrders, 'r3', columns)).toEqual(incremental);
  });
});
