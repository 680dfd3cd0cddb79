import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const rfm: TableSchema = {
  name: 'rfm',
  zone: 'analytics',
  location: 'rfm/',
  description:
    'Recency, frequency and monetary value per customer over the RFM window, 1-5 quintile scores and a named segment.',
  columns: [
    customerId,
    col('last_order_at', 'timestamp', 'Latest revenue order in the window.'),
    col('recency_days', 'int', 'Calendar days from the last order date to the run date.'),
    col('frequency', 'int', 'Revenue orders in the window (cancelled and refunded excluded).'),
    col('monetary', 'decimal(14,2)', 'Spend in the window (cancelled and refunded excluded).'),
    col('r_score', 'int', 'Recency quintile, 5 = most recent; equal values share a score.'),
    col('f_score', 'int', 'Frequency quintile, 5 = most frequent; equal values share a score.'),
    col('m_score', 'int', 'Monetary quintile, 5 = highest spend; equal values share a score.'),
    col('rfm_score', 'string', 'The three scores as text, for example 545.'),
    col('segment', 'string', 'Named segment (see docs/sql.md for the score map).'),
  ],
  partitionKeys: runPartitionKeys,
};
