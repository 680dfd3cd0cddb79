import type { TableSchema } from '../types.js';
import { churnRisk } from './churn-risk.js';
import { customer360 } from './customer-360.js';
import { dataQuality } from './data-quality.js';
import { omniChannelEngagement } from './engagement.js';
import { fraudFlags } from './fraud-flags.js';
import {
  clv,
  modelBgnbdInputs,
  modelClvByTriple,
  modelFeatures,
  modelParameters,
  modelRuns,
  modelSamples,
  segments,
} from './models.js';
import { publishedRuns } from './published-runs.js';
import { rfm } from './rfm.js';
import { salesTopCustomers, salesTopProducts, salesTrends } from './sales.js';
import { alertCandidates, segmentFigures, segmentSummaries } from './summaries.js';

export {
  alertCandidates,
  churnRisk,
  clv,
  customer360,
  dataQuality,
  fraudFlags,
  modelBgnbdInputs,
  modelClvByTriple,
  modelFeatures,
  modelParameters,
  modelRuns,
  modelSamples,
  omniChannelEngagement,
  publishedRuns,
  rfm,
  salesTopCustomers,
  salesTopProducts,
  salesTrends,
  segmentFigures,
  segmentSummaries,
  segments,
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
  modelFeatures,
  modelBgnbdInputs,
  modelSamples,
  modelRuns,
  modelParameters,
  modelClvByTriple,
  clv,
  segments,
  customer360,
  segmentFigures,
  alertCandidates,
  segmentSummaries,
  publishedRuns,
];
