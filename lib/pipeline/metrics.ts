/**
 * The metric each publish emits and the no-publish alarm watches: namespace, name and exactly one
 * dimension (`Pipeline` = the state machine's name). CloudWatch matches the whole dimension set, so
 * the emitter must add no other dimension. No CDK imports: the run-control Lambda bundles this file.
 */
export const PUBLISHED_METRIC_NAMESPACE = 'Customer360';
export const PUBLISHED_METRIC_NAME = 'RunsPublished';
export const PUBLISHED_METRIC_DIMENSION = 'Pipeline';

/**
 * One CloudWatch embedded-metric-format line: logged by a Lambda, CloudWatch Logs turns it into the
 * metric, with no API call and no extra permission.
 */
export function publishedMetricLine(pipelineName: string, at: Date): string {
  return JSON.stringify({
    _aws: {
      Timestamp: at.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: PUBLISHED_METRIC_NAMESPACE,
          Dimensions: [[PUBLISHED_METRIC_DIMENSION]],
          Metrics: [{ Name: PUBLISHED_METRIC_NAME, Unit: 'Count' }],
        },
      ],
    },
    [PUBLISHED_METRIC_DIMENSION]: pipelineName,
    [PUBLISHED_METRIC_NAME]: 1,
  });
}
