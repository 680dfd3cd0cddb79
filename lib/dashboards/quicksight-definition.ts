import type { CfnDashboard } from 'aws-cdk-lib/aws-quicksight';
import { biTables, dashboardViews } from '../pipeline/views.js';
import type { DashboardView } from '../schema/dashboards.js';
import type { Column, ColumnType } from '../schema/types.js';

/*
 * The QuickSight analysis and dashboard, defined once in code: which views get a data set, and the
 * sheets and visuals over them. `QuickSightDashboards` builds both the analysis and the dashboard from
 * the one definition this module returns, so what an author edits and what readers see start equal.
 * Every column a visual names is looked up in the declared columns of its view when the definition is
 * built, so a renamed column fails synthesis instead of a deploy.
 */

/** One QuickSight data set: a view of the analytics database with its declared columns. */
export interface DataSetSpec {
  /** Identifier of the data set inside the definition (and suffix of its data set id). */
  readonly key: string;
  /** The view it reads. */
  readonly view: string;
  readonly name: string;
  readonly columns: readonly Column[];
}

const fromDashboardView = (view: DashboardView): DataSetSpec => ({
  key: view.name.replace(/^dashboard_/, ''),
  view: view.name,
  name: `Customer 360 ${view.name.replace(/^dashboard_/, '').replaceAll('_', ' ')}`,
  columns: view.columns,
});

const fromLatestView = (name: string): DataSetSpec => {
  const table = biTables.find((t) => t.name === name);
  if (!table) throw new Error(`${name} is not a BI table with a _latest view`);
  return {
    key: name,
    view: `${name}_latest`,
    name: `Customer 360 ${name.replaceAll('_', ' ')}`,
    // The view selects the data columns, then the partition keys (see latestViewStatement).
    columns: [...table.columns, ...table.partitionKeys],
  };
};

/** The data sets: one per dashboard view, and the three `_latest` views shown as tables. */
export const quickSightDataSets: readonly DataSetSpec[] = [
  ...dashboardViews.map(fromDashboardView),
  ...['customer_360', 'data_quality', 'segment_summaries'].map(fromLatestView),
];

/**
 * The QuickSight input column type of a declared column type. Athena's double and decimal both load
 * as DECIMAL (QuickSight's one fractional type), booleans as BIT, dates and timestamps as DATETIME.
 */
export function quickSightColumnType(
  type: ColumnType,
): 'STRING' | 'INTEGER' | 'DECIMAL' | 'DATETIME' | 'BIT' {
  if (type === 'string') return 'STRING';
  if (type === 'int' || type === 'bigint') return 'INTEGER';
  if (type === 'double' || type.startsWith('decimal(')) return 'DECIMAL';
  if (type === 'date' || type === 'timestamp') return 'DATETIME';
  if (type === 'boolean') return 'BIT';
  throw new Error(`No QuickSight type for column type ${type as string}`);
}

type Visual = CfnDashboard.VisualProperty;
type Dimension = CfnDashboard.DimensionFieldProperty;
type Measure = CfnDashboard.MeasureFieldProperty;

/** Builds the fields of one visual, checking every column against its data set's declaration. */
class Fields {
  private readonly spec: DataSetSpec;
  constructor(
    private readonly visualId: string,
    dataSetKey: string,
  ) {
    const spec = quickSightDataSets.find((d) => d.key === dataSetKey);
    if (!spec) throw new Error(`Visual ${visualId}: no data set ${dataSetKey}`);
    this.spec = spec;
  }

  column(name: string): CfnDashboard.ColumnIdentifierProperty {
    const column = this.spec.columns.find((c) => c.name === name);
    if (!column) {
      throw new Error(`Visual ${this.visualId}: ${this.spec.view} has no column ${name}`);
    }
    return { dataSetIdentifier: this.spec.key, columnName: name };
  }

  id(name: string): string {
    return `${this.visualId}.${name}`;
  }

  category(name: string): Dimension {
    return { categoricalDimensionField: { fieldId: this.id(name), column: this.column(name) } };
  }

  number(name: string): Dimension {
    return { numericalDimensionField: { fieldId: this.id(name), column: this.column(name) } };
  }

  month(name: string): Dimension {
    return {
      dateDimensionField: { fieldId: this.id(name), column: this.column(name), dateGranularity: 'MONTH' },
    };
  }

  sum(name: string): Measure {
    return {
      numericalMeasureField: {
        fieldId: this.id(name),
        column: this.column(name),
        aggregationFunction: { simpleNumericalAggregation: 'SUM' },
      },
    };
  }

  /** Sorts by a column that is not on the chart (a band's position), ascending. */
  sortByColumn(name: string): CfnDashboard.FieldSortOptionsProperty {
    return {
      columnSort: {
        sortBy: this.column(name),
        direction: 'ASC',
        aggregationFunction: { numericalAggregationFunction: { simpleNumericalAggregation: 'MIN' } },
      },
    };
  }

  sortByField(name: string, direction: 'ASC' | 'DESC'): CfnDashboard.FieldSortOptionsProperty {
    this.column(name);
    return { fieldSort: { fieldId: this.id(name), direction } };
  }

  /** A tooltip line for a column summed over the bar, though it is not on the chart. */
  tooltipSum(name: string, label: string): CfnDashboard.TooltipItemProperty {
    return {
      columnTooltipItem: {
        column: this.column(name),
        label,
        visibility: 'VISIBLE',
        aggregation: { numericalAggregationFunction: { simpleNumericalAggregation: 'SUM' } },
      },
    };
  }

  rows(names: readonly string[]): CfnDashboard.UnaggregatedFieldProperty[] {
    return names.map((name) => ({ fieldId: this.id(name), column: this.column(name) }));
  }
}

const title = (text: string): CfnDashboard.VisualTitleLabelOptionsProperty => ({
  visibility: 'VISIBLE',
  formatText: { plainText: text },
});
const subtitle = (text: string): CfnDashboard.VisualSubtitleLabelOptionsProperty => ({
  visibility: 'VISIBLE',
  formatText: { plainText: text },
});
const labels: CfnDashboard.DataLabelOptionsProperty = { visibility: 'VISIBLE', overlap: 'DISABLE_OVERLAP' };

interface BarOptions {
  readonly visualId: string;
  readonly dataSet: string;
  readonly title: string;
  readonly subtitle: string;
  readonly category: string;
  readonly values: readonly string[];
  readonly colors?: string;
  /** Sort categories by this column (ascending) instead of by the first value (descending). */
  readonly sortBy?: string;
  readonly tooltip?: readonly (readonly [column: string, label: string])[];
  readonly stacked?: boolean;
}

function bar(options: BarOptions): Visual {
  const f = new Fields(options.visualId, options.dataSet);
  const [first] = options.values;
  if (!first) throw new Error(`Visual ${options.visualId}: a bar chart needs a value`);
  return {
    barChartVisual: {
      visualId: options.visualId,
      title: title(options.title),
      subtitle: subtitle(options.subtitle),
      chartConfiguration: {
        fieldWells: {
          barChartAggregatedFieldWells: {
            category: [f.category(options.category)],
            values: options.values.map((v) => f.sum(v)),
            ...(options.colors ? { colors: [f.category(options.colors)] } : {}),
          },
        },
        orientation: 'VERTICAL',
        barsArrangement: options.stacked ? 'STACKED' : 'CLUSTERED',
        dataLabels: labels,
        sortConfiguration: {
          categorySort: [options.sortBy ? f.sortByColumn(options.sortBy) : f.sortByField(first, 'DESC')],
        },
        ...(options.tooltip
          ? {
              tooltip: {
                tooltipVisibility: 'VISIBLE',
                selectedTooltipType: 'DETAILED',
                fieldBasedTooltip: {
                  aggregationVisibility: 'HIDDEN',
                  tooltipTitleType: 'PRIMARY_VALUE',
                  tooltipFields: [
                    ...options.values.map((v) => ({
                      fieldTooltipItem: { fieldId: f.id(v), visibility: 'VISIBLE' },
                    })),
                    ...options.tooltip.map(([column, label]) => f.tooltipSum(column, label)),
                  ],
                },
              },
            }
          : {}),
      },
    },
  };
}

interface LineOptions {
  readonly visualId: string;
  readonly dataSet: string;
  readonly title: string;
  readonly subtitle: string;
  readonly month: string;
  readonly values: readonly string[];
  readonly colors?: string;
}

function line(options: LineOptions): Visual {
  const f = new Fields(options.visualId, options.dataSet);
  return {
    lineChartVisual: {
      visualId: options.visualId,
      title: title(options.title),
      subtitle: subtitle(options.subtitle),
      chartConfiguration: {
        type: 'LINE',
        fieldWells: {
          lineChartAggregatedFieldWells: {
            category: [f.month(options.month)],
            values: options.values.map((v) => f.sum(v)),
            ...(options.colors ? { colors: [f.category(options.colors)] } : {}),
          },
        },
        sortConfiguration: { categorySort: [f.sortByField(options.month, 'ASC')] },
      },
    },
  };
}

interface TableOptions {
  readonly visualId: string;
  readonly dataSet: string;
  readonly title: string;
  readonly subtitle: string;
  readonly columns: readonly string[];
  readonly sortBy: string;
}

/** One row per row of the view (it is already at the grain the table shows). */
function table(options: TableOptions): Visual {
  const f = new Fields(options.visualId, options.dataSet);
  if (!options.columns.includes(options.sortBy)) {
    throw new Error(`Visual ${options.visualId}: sorts by ${options.sortBy}, which it does not show`);
  }
  return {
    tableVisual: {
      visualId: options.visualId,
      title: title(options.title),
      subtitle: subtitle(options.subtitle),
      chartConfiguration: {
        fieldWells: { tableUnaggregatedFieldWells: { values: f.rows(options.columns) } },
        sortConfiguration: { rowSort: [f.sortByField(options.sortBy, 'ASC')] },
      },
    },
  };
}

function heatMap(): Visual {
  const visualId = 'rfm-grid';
  const f = new Fields(visualId, 'rfm_grid');
  return {
    heatMapVisual: {
      visualId,
      title: title('RFM grid: customers by recency and frequency score'),
      subtitle: subtitle('Rows: recency score, columns: frequency score (5 = best).'),
      chartConfiguration: {
        fieldWells: {
          heatMapAggregatedFieldWells: {
            rows: [f.number('r_score')],
            columns: [f.number('f_score')],
            values: [f.sum('customers')],
          },
        },
        dataLabels: labels,
        sortConfiguration: {
          heatMapRowSort: [f.sortByField('r_score', 'DESC')],
          heatMapColumnSort: [f.sortByField('f_score', 'ASC')],
        },
      },
    },
  };
}

interface SheetSpec {
  readonly sheetId: string;
  readonly name: string;
  readonly description: string;
  readonly visuals: readonly Visual[];
}

/** Two visuals a row, each half the 36-column grid wide. */
function sheet(spec: SheetSpec): CfnDashboard.SheetDefinitionProperty {
  const ids = spec.visuals.map((v) => visualId(v));
  return {
    sheetId: spec.sheetId,
    name: spec.name,
    title: spec.name,
    description: spec.description,
    contentType: 'INTERACTIVE',
    visuals: [...spec.visuals],
    layouts: [
      {
        configuration: {
          gridLayout: {
            elements: ids.map((elementId, index) => ({
              elementId,
              elementType: 'VISUAL',
              columnIndex: (index % 2) * 18,
              columnSpan: 18,
              rowIndex: Math.floor(index / 2) * 12,
              rowSpan: 12,
            })),
          },
        },
      },
    ],
  };
}

/** The id of a visual, whatever its kind. */
export function visualId(visual: Visual): string {
  const inner = Object.values(visual)[0] as { visualId?: string } | undefined;
  if (!inner?.visualId) throw new Error('A visual has no visualId');
  return inner.visualId;
}

const EMPTY_STATE = 'Empty until the pipeline publishes its first run.';

/** The sheets, in order. */
function sheets(): CfnDashboard.SheetDefinitionProperty[] {
  return [
    sheet({
      sheetId: 'customers',
      name: 'Customers',
      description: `Who the customers are and what they are worth. ${EMPTY_STATE}`,
      visuals: [
        bar({
          visualId: 'segment-overview',
          dataSet: 'segment_overview',
          title: 'Customers by lifecycle stage and RFM segment',
          subtitle: 'Bars: customers; the tooltip adds their revenue to date and expected lifetime value.',
          category: 'lifecycle_stage',
          colors: 'rfm_segment',
          values: ['customers'],
          stacked: true,
          tooltip: [
            ['lifetime_revenue', 'Revenue to date'],
            ['expected_lifetime_value', 'Expected lifetime value'],
          ],
        }),
        heatMap(),
        bar({
          visualId: 'clv-distribution',
          dataSet: 'clv_distribution',
          title: 'Customer lifetime value distribution',
          subtitle: 'Customers by band of lifetime value (withheld values left out).',
          category: 'band_label',
          values: ['customers'],
          sortBy: 'band_index',
          tooltip: [['lifetime_value', 'Lifetime value in the band']],
        }),
        table({
          visualId: 'kmeans-profiles',
          dataSet: 'kmeans_profiles',
          title: 'K-Means segment profiles',
          subtitle: 'Size and mean features of each cluster, with value and churn risk.',
          columns: [
            'kmeans_segment',
            'customers',
            'share',
            'avg_days_since_last_purchase',
            'avg_purchase_days',
            'avg_mean_spend',
            'avg_engagement_events',
            'avg_lifetime_value',
            'avg_churn_probability',
            'is_trustworthy',
          ],
          sortBy: 'kmeans_segment',
        }),
      ],
    }),
    sheet({
      sheetId: 'risk',
      name: 'Churn and fraud',
      description: `Who may leave, whose value is at stake, and what the fraud rules catch. ${EMPTY_STATE}`,
      visuals: [
        bar({
          visualId: 'churn-distribution',
          dataSet: 'churn_distribution',
          title: 'Churn risk distribution',
          subtitle: 'Customers by band of churn probability (10 points a band).',
          category: 'band_label',
          values: ['customers'],
          sortBy: 'band_index',
          tooltip: [
            ['churn_risk_customers', 'Flagged by the purchase-gap rule'],
            ['lifetime_value', 'Lifetime value'],
          ],
        }),
        table({
          visualId: 'at-risk-customers',
          dataSet: 'at_risk_customers',
          title: 'Top customers at risk',
          subtitle: 'The 100 customers with the most lifetime value at risk: who to call first (ids only).',
          columns: [
            'risk_rank',
            'customer_id',
            'value_at_risk',
            'lifetime_value',
            'churn_probability',
            'rfm_segment',
            'lifecycle_stage',
            'days_since_last_order',
            'lifetime_revenue',
            'primary_channel',
          ],
          sortBy: 'risk_rank',
        }),
        bar({
          visualId: 'fraud-signals',
          dataSet: 'fraud_signals',
          title: 'Fraud signals',
          subtitle: 'Customers each fraud condition triggered for, and how many of them are flagged.',
          category: 'signal',
          values: ['customers', 'flagged_customers'],
        }),
      ],
    }),
    sheet({
      sheetId: 'sales',
      name: 'Sales and engagement',
      description: `Revenue over time, the products behind it, and the channels customers use. ${EMPTY_STATE}`,
      visuals: [
        line({
          visualId: 'revenue-by-month',
          dataSet: 'revenue_by_month',
          title: 'Revenue by month, with the previous year',
          subtitle: 'Revenue of each month beside the same month a year earlier.',
          month: 'month',
          values: ['revenue', 'previous_year_revenue'],
        }),
        line({
          visualId: 'top-products',
          dataSet: 'top_products',
          title: 'Top products over time',
          subtitle: 'Monthly revenue of the five products with the most revenue overall.',
          month: 'month',
          values: ['revenue'],
          colors: 'product_name',
        }),
        bar({
          visualId: 'engagement-by-channel',
          dataSet: 'engagement_by_channel',
          title: 'Engagement by channel',
          subtitle: 'Customers active in each channel, and those whose main channel it is.',
          category: 'channel',
          values: ['active_customers', 'primary_customers'],
        }),
      ],
    }),
    sheet({
      sheetId: 'run',
      name: 'Data quality and summaries',
      description: `The published run's quality checks and its plain-language segment summaries. ${EMPTY_STATE}`,
      visuals: [
        table({
          visualId: 'data-quality',
          dataSet: 'data_quality',
          title: 'Data quality checks of the published run',
          subtitle:
            'Each check with its value and threshold; blocking checks stop a run before it publishes.',
          columns: [
            'check_name',
            'subject',
            'metric_value',
            'threshold',
            'is_passed',
            'is_blocking',
            'detail',
            'run_date',
          ],
          sortBy: 'check_name',
        }),
        table({
          visualId: 'segment-summaries',
          dataSet: 'segment_summaries',
          title: 'Segment summaries',
          subtitle: 'What each segment is and what to do about it, in plain language.',
          columns: ['segment_type', 'segment', 'headline', 'description', 'recommended_actions', 'source'],
          sortBy: 'segment',
        }),
      ],
    }),
  ];
}

/**
 * The definition of the analysis and of the dashboard, over the data sets whose ARNs are given (by
 * `DataSetSpec.key`). Every data set must have an ARN.
 */
export function quickSightDefinition(
  dataSetArns: Readonly<Record<string, string>>,
): CfnDashboard.DashboardVersionDefinitionProperty {
  const missing = quickSightDataSets.filter((d) => dataSetArns[d.key] === undefined).map((d) => d.key);
  if (missing.length > 0) throw new Error(`No data set ARN for ${missing.join(', ')}`);
  return {
    dataSetIdentifierDeclarations: quickSightDataSets.map((d) => ({
      identifier: d.key,
      dataSetArn: dataSetArns[d.key] as string,
    })),
    sheets: sheets(),
  };
}
