import { runDate, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const fraudFlags: TableSchema = {
  name: 'fraud_flags',
  zone: 'analytics',
  location: 'fraud_flags/',
  description:
    'Customers whose logins (distinct IPs, attempts, failures) and orders (high value or many) in the fraud window are both anomalous, with the reasons.',
  columns: [
    customerId,
    col('distinct_ips', 'int', 'Distinct IP addresses used to log in within the window.'),
    col('login_attempts', 'int', 'Login attempts within the window.'),
    col('failed_logins', 'int', 'Failed logins within the window.'),
    col('orders_in_window', 'int', 'Orders placed within the window (any status).'),
    col('high_value_orders', 'int', 'Orders above the high-value total within the window.'),
    col('max_order_total', 'decimal(12,2)', 'Largest order total within the window.'),
    col('window_spend', 'decimal(14,2)', 'Sum of order totals within the window.'),
    col('is_login_anomaly', 'boolean', 'Too many distinct IPs, attempts or failed logins.'),
    col('is_order_anomaly', 'boolean', 'A high-value order or too many orders.'),
    col('is_flagged', 'boolean', 'Both a login and an order anomaly: the fraud flag.'),
    col('flag_reasons', 'string', 'Semicolon-separated reasons, each with its figure and threshold.'),
  ],
  partitionKeys: [runDate],
};
