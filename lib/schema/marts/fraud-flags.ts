import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const fraudFlags: TableSchema = {
  name: 'fraud_flags',
  zone: 'analytics',
  location: 'fraud_flags/',
  description:
    'Login (distinct IPs, attempts, failures) and order (high value, count) signals in the fraud window for every customer with a login or an order in it; flagged when both are anomalous, with the reasons.',
  columns: [
    customerId,
    col('distinct_ips', 'int', 'Distinct IP addresses used to log in within the window.'),
    col('login_attempts', 'int', 'Login attempts within the window.'),
    col('failed_logins', 'int', 'Failed logins within the window.'),
    col('orders_in_window', 'int', 'Orders placed within the window (any status).'),
    col('high_value_orders', 'int', 'Orders above the high-value total within the window.'),
    col('max_order_total', 'decimal(12,2)', 'Largest order total within the window.'),
    col('window_spend', 'decimal(14,2)', 'Sum of order totals within the window (any status).'),
    col('is_login_anomaly', 'boolean', 'Too many distinct IPs, attempts or failed logins.'),
    col('is_order_anomaly', 'boolean', 'A high-value order or too many orders.'),
    col('is_flagged', 'boolean', 'Both a login and an order anomaly: the fraud flag.'),
    col(
      'flag_reasons',
      'string',
      "Every triggered condition with its figure and threshold, '; '-separated (for example distinct_ips 7 > 5; high_value_order 2400.00 > 1000.00); null when none.",
    ),
  ],
  partitionKeys: runPartitionKeys,
};
