import type { TableSchema } from '../types.js';
import { churnRisk } from './churn-risk.js';
import { customer360 } from './customer-360.js';
import { dataQuality } from './data-quality.js';
import { omniChannelEngagement } from './engagement.js';
import { fraudFlags } from './fraud-flags.js';
import { publishedRuns } from './published-runs.js';
import { rfm } from './rfm.js';
import { salesTopCustomers, salesTopProducts, salesTrends } from './sales.js';

export {
  churnRisk,
  customer360,
  dataQuality,
  fraudFlags,
  omniChannelEngagement,
  publishedRuns,
  rfm,
  salesTopCustomers,
  salesTopProducts,
  salesTrends,
};

export const martTables: readonly TableSchema[] = [
  rfm,
  churnRisk,
  fraudFlags,
  omniChannelEngagement,
  salesTrends,
  salesTopProducts,
  salesTopCustomers,
  dataQuality,
  customer360,
  publishedRuns,
];
