import { describe, expect, it } from 'vitest';
import {
  quickSightColumnType,
  quickSightDataSets,
  quickSightDefinition,
  visualId,
} from '../lib/dashboards/quicksight-definition.js';
import type { ColumnType } from '../lib/schema/types.js';

const arns = Object.fromEntries(
  quickSightDataSets.map((d) => [d.key, `arn:aws:quicksight:::dataset/${d.key}`]),
);
const definition = quickSightDefinition(arns);

interface ColumnRef {
  readonly dataSetIdentifier: string;
  readonly columnName: string;
}

/** Every `{ dataSetIdentifier, columnName }` anywhere under a value. */
function columnRefs(value: unknown): ColumnRef[] {
  if (Array.isArray(value)) return value.flatMap(columnRefs);
  if (value === null || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const own =
    typeof record.dataSetIdentifier === 'string' && typeof record.columnName === 'string'
      ? [{ dataSetIdentifier: record.dataSetIdentifier, columnName: record.columnName }]
      : [];
  return [...own, ...Object.values(record).flatMap(columnRefs)];
}

/** Every value of a key anywhere under a value. */
function valuesOf(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesOf(v, key));
  if (value === null || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  return [...(key in record ? [record[key]] : []), ...Object.values(record).flatMap((v) => valuesOf(v, key))];
}

type Sheet = { sheetId: string; visuals: Record<string, unknown>[]; layouts: unknown[] };
const sheets = definition.sheets as unknown as Sheet[];
const visuals = sheets.flatMap((s) => s.visuals);

describe('the QuickSight data sets', () => {
  it('are one per dashboard view plus the customer_360, data_quality and segment_summaries _latest views', () => {
    expect(quickSightDataSets.map((d) => d.view)).toEqual([
      'dashboard_segment_overview',
      'dashboard_rfm_grid',
      'dashboard_churn_distribution',
      'dashboard_at_risk_customers',
      'dashboard_clv_distribution',
      'dashboard_kmeans_profiles',
      'dashboard_fraud_signals',
      'dashboard_revenue_by_month',
      'dashboard_top_products',
      'dashboard_engagement_by_channel',
      'customer_360_latest',
      'data_quality_latest',
      'segment_summaries_latest',
    ]);
  });

  it('map each declared type to the QuickSight type written once for it', () => {
    const expected: [ColumnType, string][] = [
      ['string', 'STRING'],
      ['int', 'INTEGER'],
      ['bigint', 'INTEGER'],
      ['double', 'DECIMAL'],
      ['decimal(14,2)', 'DECIMAL'],
      ['decimal(38,2)', 'DECIMAL'],
      ['date', 'DATETIME'],
      ['timestamp', 'DATETIME'],
      ['boolean', 'BIT'],
    ];
    expect(expected.map(([type]) => [type, quickSightColumnType(type)])).toEqual(expected);
  });

  it('carry the _latest views’ partition keys as columns (the view selects them)', () => {
    const quality = quickSightDataSets.find((d) => d.key === 'data_quality');
    expect(quality?.columns.map((c) => c.name)).toEqual([
      'check_name',
      'subject',
      'metric_value',
      'threshold',
      'is_passed',
      'is_blocking',
      'detail',
      'run_date',
      'run_id',
    ]);
  });
});

describe('the QuickSight definition', () => {
  it('declares every data set by its key and ARN', () => {
    expect(definition.dataSetIdentifierDeclarations).toEqual(
      quickSightDataSets.map((d) => ({
        identifier: d.key,
        dataSetArn: `arn:aws:quicksight:::dataset/${d.key}`,
      })),
    );
  });

  it('has the twelve visuals the issue asks for, each with a title', () => {
    expect(visuals.map(visualId)).toEqual([
      'segment-overview',
      'rfm-grid',
      'clv-distribution',
      'kmeans-profiles',
      'churn-distribution',
      'at-risk-customers',
      'fraud-signals',
      'revenue-by-month',
      'top-products',
      'engagement-by-channel',
      'data-quality',
      'segment-summaries',
    ]);
    expect(visuals.map((v) => Object.keys(v)[0])).toEqual([
      'barChartVisual',
      'heatMapVisual',
      'barChartVisual',
      'tableVisual',
      'barChartVisual',
      'tableVisual',
      'barChartVisual',
      'lineChartVisual',
      'lineChartVisual',
      'barChartVisual',
      'tableVisual',
      'tableVisual',
    ]);
    for (const visual of visuals) {
      const inner = Object.values(visual)[0] as {
        title?: { visibility?: string; formatText?: { plainText?: string } };
      };
      expect(inner.title?.visibility, visualId(visual)).toBe('VISIBLE');
      expect(inner.title?.formatText?.plainText?.length ?? 0, visualId(visual)).toBeGreaterThan(10);
    }
  });

  it('names only columns its data sets declare', () => {
    const refs = columnRefs(definition);
    expect(refs.length).toBeGreaterThan(50);
    const unknown = refs.filter(
      (r) =>
        !quickSightDataSets
          .find((d) => d.key === r.dataSetIdentifier)
          ?.columns.some((c) => c.name === r.columnName),
    );
    expect(unknown).toEqual([]);
  });

  it('uses a field id once per visual, and sorts and tooltips only by fields on the visual', () => {
    for (const visual of visuals) {
      const wells = valuesOf(visual, 'fieldWells');
      const declared = valuesOf(wells, 'fieldId') as string[];
      expect(new Set(declared).size, visualId(visual)).toBe(declared.length);
      const used = [
        ...valuesOf(valuesOf(visual, 'sortConfiguration'), 'fieldId'),
        ...valuesOf(valuesOf(visual, 'tooltip'), 'fieldId'),
      ];
      for (const id of used) expect(declared, `${visualId(visual)} uses ${String(id)}`).toContain(id);
    }
  });

  it('lays out each sheet’s visuals, each once, two to a row of the 36-column grid', () => {
    for (const sheet of sheets) {
      const elements = valuesOf(sheet.layouts, 'elements').flat() as {
        elementId: string;
        columnIndex: number;
        columnSpan: number;
      }[];
      expect(elements.map((e) => e.elementId)).toEqual(sheet.visuals.map(visualId));
      for (const e of elements) expect(e.columnIndex + e.columnSpan).toBeLessThanOrEqual(36);
    }
  });

  it('orders the banded distributions by band position, not alphabetically by label', () => {
    for (const id of ['churn-distribution', 'clv-distribution']) {
      const visual = visuals.find((v) => visualId(v) === id);
      expect(valuesOf(visual, 'categorySort'), id).toEqual([
        [
          {
            columnSort: {
              sortBy: { dataSetIdentifier: id.replace('-', '_'), columnName: 'band_index' },
              direction: 'ASC',
              aggregationFunction: { numericalAggregationFunction: { simpleNumericalAggregation: 'MIN' } },
            },
          },
        ],
      ]);
    }
  });

  it('refuses to build without an ARN for every data set', () => {
    const { data_quality: _left, ...partial } = arns;
    expect(() => quickSightDefinition(partial)).toThrow('No data set ARN for data_quality');
  });
});
