import { runPartitionKeys, type TableSchema } from '../types.js';
import { col } from './common.js';

export const salesTrends: TableSchema = {
  name: 'sales_trends',
  zone: 'analytics',
  location: 'sales_trends/',
  description: 'Revenue by month with peak months ranked.',
  columns: [
    col('month', 'date', 'First day of the month.', { nullable: false }),
    col('revenue', 'decimal(14,2)', 'Revenue (cancelled and refunded excluded).'),
    col('orders', 'int', 'Revenue orders.'),
    col('customers', 'int', 'Distinct customers with a revenue order.'),
    col('avg_order_value', 'decimal(14,2)', 'Revenue / orders.'),
    col('revenue_rank', 'int', 'Rank of the month by revenue, 1 = peak.'),
    col('is_peak', 'boolean', 'Among the top N months by revenue.'),
    col(
      'is_partial_month',
      'boolean',
      'The run date cuts the month short (its month, when the run date is not its last day): figures are month-to-date.',
    ),
    col(
      'change_base_revenue',
      'decimal(14,2)',
      'What the change compares with: the previous month, or for a partial month the same days of the previous month.',
    ),
    col(
      'revenue_change_pct',
      'double',
      'Change against change_base_revenue, in percent; null for the first month or a zero base.',
    ),
  ],
  partitionKeys: runPartitionKeys,
};

export const salesTopProducts: TableSchema = {
  name: 'sales_top_products',
  zone: 'analytics',
  location: 'sales_top_products/',
  description: 'The top N products by revenue in each month (ties share a rank).',
  columns: [
    col('month', 'date', 'First day of the month.', { nullable: false }),
    col('product_id', 'bigint', 'Product.', { nullable: false }),
    col('product_name', 'string', 'Product name.'),
    col('category', 'string', 'Category.'),
    col('revenue', 'decimal(14,2)', 'Line revenue of revenue orders.'),
    col('units', 'int', 'Units sold.'),
    col('product_rank', 'int', 'Rank within the month, 1 = top; ties share a rank.'),
  ],
  partitionKeys: runPartitionKeys,
};

export const salesTopCustomers: TableSchema = {
  name: 'sales_top_customers',
  zone: 'analytics',
  location: 'sales_top_customers/',
  description: 'The monthly revenue of the top N customers by revenue in the RFM window.',
  columns: [
    col('customer_id', 'bigint', 'Customer.', { nullable: false }),
    col('customer_rank', 'int', 'Rank by revenue in the window, 1 = top; ties share a rank.'),
    col('month', 'date', 'First day of the month.', { nullable: false }),
    col('revenue', 'decimal(14,2)', 'Revenue in the month.'),
    col('orders', 'int', 'Revenue orders in the month.'),
  ],
  partitionKeys: runPartitionKeys,
};
