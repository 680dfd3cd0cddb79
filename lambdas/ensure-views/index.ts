import { Logger } from '@aws-lambda-powertools/logger';
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { ensureViews } from '../../lib/views/ensure-views.js';
import { viewsEventSchema } from './handler.js';

const logger = new Logger({ serviceName: 'customer360-ensure-views' });
const athena = new AthenaClient({});
const glue = new GlueClient({});

/**
 * The views custom resource (custom-resources Provider framework, synchronous): creates the `_latest`
 * views that do not exist yet and replaces the `dashboard_*` views, then answers. A thrown error fails
 * the deploy with its message (which names the view and Athena's reason).
 */
export const handler = async (event: unknown) => {
  const parsed = viewsEventSchema.parse(event);
  if (parsed.RequestType === 'Delete') {
    // The views are catalog tables of the analytics database, which outlives the stack by default
    // (RETAIN); dropping them here would break every reader of a retained lake.
    logger.info('delete: views left in place', { physicalResourceId: parsed.PhysicalResourceId });
    return { PhysicalResourceId: parsed.PhysicalResourceId };
  }
  const { ServiceToken: _token, ...plan } = parsed.ResourceProperties;
  const result = await ensureViews(plan, { athena, glue });
  const counts = { created: 0, recreated: 0, unchanged: 0 };
  for (const action of Object.values(result.latest)) counts[action] += 1;
  logger.info('views ensured', { requestType: parsed.RequestType, ...result });
  // Counts only: a custom resource's whole response must stay under 4 KB.
  return {
    PhysicalResourceId: `${plan.database}.views`,
    Data: {
      LatestCreated: counts.created,
      LatestRecreated: counts.recreated,
      LatestUnchanged: counts.unchanged,
      DashboardViews: result.dashboards.length,
    },
  };
};
