import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { renderModel } from '../lib/local/sql-runner.js';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawMysqlCustomers,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
} from '../lib/schema/tables.js';
import { loadModels, type SqlModel, tableModelsInOrder } from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';
import { FIXTURE_RUN_ID, FixtureLake } from './helpers/lake.js';

/*
 * Every stage model and every mart must join on key equality only. A join whose condition also filters one side
 * (`on k.key_type = 'customer' and c.id = ...`) or compares with an inequality is planned by DuckDB
 * as a nested-loop, blockwise or piecewise-merge join, or a cross product: quadratic in the keys
 * (79 s at 20,000 keys for int_identity_map before its joins were rewritten, against 0.05 s).
 *
 * The plans are read with EXPLAIN (FORMAT json) over a small raw zone. DuckDB picks a nested-loop or merge join
 * for an equi-join too when a side is tiny (nested_loop_join_threshold, merge_join_threshold), so
 * both thresholds are set to 0: what is left is the join condition's shape, which is what this checks.
 */
const RUN_DATE = '2024-06-30';
const T = '2024-06-01 00:00:00';
const QUADRATIC_OPERATORS = [
  'NESTED_LOOP_JOIN',
  'BLOCKWISE_NL_JOIN',
  'PIECEWISE_MERGE_JOIN',
  'CROSS_PRODUCT',
];

/**
 * Operators allowed in a model, each with why it is provably on tiny inputs: the model, the operator
 * and the reason.
 */
const MONTH_SPINE =
  'the month spine: one row of month bounds against the 100 rows of int_month_offsets (a range condition on at most 100 rows)';
const ALLOWED: readonly { model: string; operator: string; reason: string }[] = [
  { model: 'fraud_flags', operator: 'CROSS_PRODUCT', reason: 'the one row of configured thresholds' },
  {
    model: 'churn_risk',
    operator: 'CROSS_PRODUCT',
    reason: 'the one row of the base median gap (an aggregate)',
  },
  { model: 'sales_trends', operator: 'CROSS_PRODUCT', reason: MONTH_SPINE },
  { model: 'sales_trends', operator: 'PIECEWISE_MERGE_JOIN', reason: MONTH_SPINE },
  {
    model: 'sales_top_customers',
    operator: 'CROSS_PRODUCT',
    reason: `${MONTH_SPINE}; and top_n (at most 1,000) customers by the months of the window (at most 121)`,
  },
  { model: 'sales_top_customers', operator: 'PIECEWISE_MERGE_JOIN', reason: MONTH_SPINE },
  {
    model: 'churn_risk',
    operator: 'CROSS_PRODUCT',
    reason: "the one row of the churn model's coefficients and the one row of its status (aggregates)",
  },
  {
    model: 'clv',
    operator: 'CROSS_PRODUCT',
    reason:
      'the one row each of the BG/NBD and Gamma-Gamma statuses and the Gamma-Gamma parameters (aggregates)',
  },
  {
    model: 'segments',
    operator: 'CROSS_PRODUCT',
    reason: 'the k centroids (at most 12), the one row of feature scales and the one row of the fit status',
  },
  {
    model: 'segment_figures',
    operator: 'CROSS_PRODUCT',
    reason:
      'the one row of the customer total and the one row saying whether a previous run exists (aggregates)',
  },
  {
    model: 'snapshot_mysql_customers',
    operator: 'CROSS_PRODUCT',
    reason: 'the one row of the latest key scan time (an aggregate)',
  },
  {
    model: 'snapshot_mysql_products',
    operator: 'CROSS_PRODUCT',
    reason: 'the one row of the latest key scan time (an aggregate)',
  },
  {
    model: 'snapshot_mysql_orders',
    operator: 'CROSS_PRODUCT',
    reason: 'the one row of the latest key scan time (an aggregate)',
  },
  {
    model: 'snapshot_mysql_order_items',
    operator: 'CROSS_PRODUCT',
    reason: 'the one row of the latest key scan time (an aggregate)',
  },
  {
    model: 'model_features',
    operator: 'PIECEWISE_MERGE_JOIN',
    reason: 'the three cutoffs (D, D - H, D - 2H): a date range condition against three rows',
  },
];

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('stage models and marts plan no quadratic join', () => {
  let lake: FixtureLake;
  const models = loadModels();
  const stageModels: SqlModel[] = tableModelsInOrder(models, 'stage');
  const parameters = pipelineParameters(parseConfig({}), RUN_DATE, FIXTURE_RUN_ID);

  beforeAll(async () => {
    lake = await FixtureLake.open();
    await lake.write(
      rawMysqlCustomers,
      RUN_DATE,
      range(20).map((id) => ({
        customer_id: id,
        email: `c${id}@example.com`,
        signup_at: '2021-01-01 09:00:00',
        updated_at: T,
        ingested_at: T,
      })),
    );
    await lake.write(
      rawMysqlProducts,
      RUN_DATE,
      range(20).map((id) => ({ product_id: id, name: `p${id}`, price: 10, updated_at: T, ingested_at: T })),
    );
    await lake.write(
      rawMysqlOrders,
      RUN_DATE,
      range(20).map((id) => ({
        order_id: id,
        customer_id: id,
        order_at: '2024-05-01 10:00:00',
        status: 'delivered',
        currency: 'usd',
        total_amount: 50,
        discount_amount: 0,
        updated_at: T,
        ingested_at: T,
      })),
    );
    await lake.write(
      rawMysqlOrderItems,
      RUN_DATE,
      range(20).map((id) => ({
        order_id: id,
        line_number: 1,
        product_id: id,
        quantity: 1,
        unit_price: 50,
        discount_amount: 0,
        updated_at: T,
        ingested_at: T,
      })),
    );
    const keys = range(20).map((id) =>
      id % 3 === 0 ? `customer#${id}` : id % 3 === 1 ? `visitor#v${id}` : `email#e${id}@example.com`,
    );
    await lake.write(
      rawDynamodbInteractions,
      RUN_DATE,
      keys.map((key, i) => ({
        customer_key: key,
        event_key: `2024-06-01T10:00:00.000Z#e${i}`,
        event_id: `e${i}`,
        event_type: key.startsWith('visitor#') ? 'identify' : 'web_visit',
        event_at: '2024-06-01T10:00:00.000Z',
        customer_id: key.startsWith('visitor#') ? String(i) : null,
        item_json: '{}',
        ingested_at: T,
      })),
    );
    await lake.write(
      rawHistoryOrders,
      RUN_DATE,
      range(20).map((line) => ({
        source_file: 'legacy/orders.csv',
        line_number: line,
        customer_ref: line % 2 === 0 ? `L${String(line).padStart(7, '0')}` : `h${line}@example.com`,
        order_date: '2019-03-04',
        amount: '10.00',
        quantity: '1',
        ingested_at: T,
      })),
    );
    await lake.engine.run('SET nested_loop_join_threshold = 0; SET merge_join_threshold = 0');
  });

  afterAll(() => lake?.close());

  it('covers every stage model', () => {
    expect(stageModels.map((m) => m.name).sort()).toEqual([
      'customers',
      'identity_map',
      'identity_resolution',
      'interactions',
      'order_items',
      'orders',
      'products',
      'rejects',
      'snapshot_dynamodb_interactions',
      'snapshot_history_orders',
      'snapshot_mysql_customers',
      'snapshot_mysql_order_items',
      'snapshot_mysql_orders',
      'snapshot_mysql_products',
      'source_deletes',
    ]);
  });

  it('detects a filter inside a join condition (so the check below can fail)', async () => {
    const plan = await explain(
      `SELECT * FROM raw.mysql_customers AS k LEFT JOIN raw.mysql_orders AS o
         ON k.email LIKE 'c1%' AND o.customer_id = k.customer_id`,
    );
    expect(quadraticOperators(plan)).not.toEqual([]);
  });

  it.each(stageModels.map((m) => [m.name, m] as const))('%s joins by key only', async (name, model) => {
    const plan = await explain(renderModel(model, models, parameters));
    const allowed = new Set(ALLOWED.filter((a) => a.model === name).map((a) => a.operator));
    expect(quadraticOperators(plan).filter((op) => !allowed.has(op))).toEqual([]);
  });

  // The marts read the stage tables: build them once, then read every mart's plan the same way.
  let staged: Promise<void> | undefined;
  const martModels: SqlModel[] = tableModelsInOrder(models, 'analytics');
  it.each(martModels.map((m) => [m.name, m] as const))('mart %s joins by key only', async (name, model) => {
    staged ??= lake.runZone('stage', RUN_DATE);
    await staged;
    const plan = await explain(renderModel(model, models, parameters));
    const allowed = new Set(ALLOWED.filter((a) => a.model === name).map((a) => a.operator));
    expect(quadraticOperators(plan).filter((op) => !allowed.has(op))).toEqual([]);
  });

  /** The physical operators of a query's plan, from EXPLAIN in JSON (the text boxes truncate names). */
  async function explain(sql: string): Promise<string[]> {
    const reader = await lake.engine.runAndReadAll(`EXPLAIN (FORMAT json) ${sql}`);
    const operators: string[] = [];
    const walk = (node: { name?: string; children?: unknown[] }) => {
      if (node.name) operators.push(node.name);
      for (const child of node.children ?? []) walk(child as typeof node);
    };
    for (const row of reader.getRowObjectsJson()) {
      for (const root of JSON.parse(String(row.explain_value))) walk(root);
    }
    return operators;
  }
});

/** The quadratic operators of a plan, once per occurrence. */
function quadraticOperators(operators: readonly string[]): string[] {
  return operators.filter((op) => QUADRATIC_OPERATORS.includes(op));
}
