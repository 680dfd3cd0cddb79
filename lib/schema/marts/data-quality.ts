import { runPartitionKeys, type TableSchema } from '../types.js';
import { col } from './common.js';

export const dataQuality: TableSchema = {
  name: 'data_quality',
  zone: 'analytics',
  location: 'data_quality/',
  description:
    'Per run: row counts per source and zone, rejects by reason, source freshness, and each check with pass/fail; blocking checks stop the run before publishing.',
  columns: [
    col(
      'check_name',
      'string',
      'row_count, rejects, reject_share, freshness_days, orders_loaded, mixed_currency, out_of_scope_rows, source_disabled, identity_group_cap...',
      {
        nullable: false,
      },
    ),
    col(
      'subject',
      'string',
      'What was measured, for example raw.mysql_orders or mysql.orders/negative_amount.',
      {
        nullable: false,
      },
    ),
    col('metric_value', 'double', 'The measured figure.'),
    col('threshold', 'double', 'The limit the check compares against; null for information-only rows.'),
    col('is_passed', 'boolean', 'Whether the check passed; informational rows always pass.', {
      nullable: false,
    }),
    col('is_blocking', 'boolean', 'A failed blocking check stops the run before analytics are published.', {
      nullable: false,
    }),
    col('detail', 'string', 'Human-readable explanation.'),
  ],
  partitionKeys: runPartitionKeys,
};
