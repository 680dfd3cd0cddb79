import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { DUCKDB_COMPAT_MACROS } from '../lib/sql/compat.js';
import {
  compileModel,
  loadModels,
  qualifyZones,
  renderParameters,
  stripCommentsAndStrings,
} from '../lib/sql/models.js';
import { pipelineParameters } from '../lib/sql/parameters.js';

const models = loadModels();
const parameters = pipelineParameters(parseConfig({}), '2024-06-30', 'r-1');
const trino = new TrinoSQL();
const athenaDatabases = {
  raw: 'customer360_raw',
  stage: 'customer360_stage',
  analytics: 'customer360_analytics',
};

describe('every SQL file is Athena engine v3 (Trino) SQL', () => {
  it.each([...models.values()].map((m) => [m.name, m] as const))('%s parses as Trino', (_name, model) => {
    const athenaSql = qualifyZones(
      renderParameters(compileModel(model, models), parameters),
      athenaDatabases,
    );

    expect(trino.validate(athenaSql)).toEqual([]);
  });

  it('the parser rejects what Athena would (so the check above can fail)', () => {
    expect(trino.validate('select x from t where ingest_date <= :run_date')).not.toEqual([]);
    expect(trino.validate('select x, from t')).not.toEqual([]);
  });

  it('holds exactly one statement per file, a query, and no materialization', () => {
    for (const model of models.values()) {
      const code = stripCommentsAndStrings(model.sql);
      expect(code, model.file).not.toMatch(/\b(create|insert|unload|copy|drop|delete)\b/i);
      expect(code.trim().replace(/;$/, ''), model.file).not.toContain(';');
    }
  });

  it('never reads the clock: every model is computed as of the run date parameter', () => {
    for (const model of models.values()) {
      expect(model.sql, model.file).not.toMatch(
        /\b(current_date|current_timestamp|now\(\)|localtimestamp)\b/i,
      );
    }
  });
});

describe('SQL compilation', () => {
  it('maps logical zones to Glue databases outside strings and comments only', () => {
    const sql = "select 'raw.x' as s from raw.mysql_orders join stage.orders on true -- analytics.y";
    expect(qualifyZones(sql, athenaDatabases)).toBe(
      "select 'raw.x' as s from customer360_raw.mysql_orders join customer360_stage.orders on true -- analytics.y",
    );
  });

  it('renders typed literals and refuses unknown or unsafe parameters', () => {
    expect(
      renderParameters('{{ run_date }} {{ top_n }} {{ max_reject_share }} ({{ blocked_emails }})', {
        run_date: { date: '2024-06-30' },
        top_n: 10,
        max_reject_share: 0.05,
        blocked_emails: ["o'neil@x.com", 'a@b.c'],
      }),
    ).toBe("DATE '2024-06-30' 10 DOUBLE '0.05' ('o''neil@x.com', 'a@b.c')");
    expect(() => renderParameters('{{ nope }}', {})).toThrow('SQL parameter {{ nope }} has no value');
    expect(() => renderParameters('{{ d }}', { d: { date: "2024-01-01' or 1=1 --" } })).toThrow(
      'must be yyyy-MM-dd',
    );
  });

  it('inlines the ephemeral models a table model uses, dependencies first', () => {
    const orders = models.get('orders');
    if (!orders) throw new Error('no orders model');
    const compiled = compileModel(orders, models);
    const order = ['int_identity_map', 'stg_mysql_orders', 'int_orders_checked'].map((name) =>
      compiled.indexOf(`${name} AS (`),
    );
    expect(order.every((position) => position >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Identity resolution is read from its stage table, not resolved again over every raw interaction.
    expect(compiled).not.toContain('stg_dynamodb_interactions AS (');
    expect(compiled).toMatch(/from stage\.identity_resolution\b/);
  });

  it('documents every DuckDB compatibility macro', () => {
    for (const macro of DUCKDB_COMPAT_MACROS) {
      expect(macro.sql).toMatch(new RegExp(`MACRO ${macro.name}\\(`));
      expect(macro.why.length).toBeGreaterThan(10);
    }
  });
});
