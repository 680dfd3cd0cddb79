import type { TableSchema } from '../types.js';
import { col } from './common.js';

/**
 * What readers see, one row per publish. Unpartitioned on purpose: its readers (operators, BI lineage,
 * `c360 status`) want the whole history, and a table with the injected `run_id` key could not be read
 * without naming a run. Each publish adds its own file under `published_runs/run_date=D/run_id=R/`.
 */
export const publishedRuns: TableSchema = {
  name: 'published_runs',
  zone: 'analytics',
  location: 'published_runs/',
  description:
    'One row per publish: the run the `_latest` views were pointed at, when, by which execution, and what it replaced.',
  columns: [
    col('run_date', 'date', 'Run date of the published run.', { nullable: false }),
    col('run_id', 'string', 'Run id (execution name) of the published run.', { nullable: false }),
    col('execution_id', 'string', 'Execution that published it.', { nullable: false }),
    col('published_at', 'timestamp', 'When the views were re-pointed (UTC).', { nullable: false }),
    col('previous_run_date', 'date', 'Run date published before, if any.'),
    col('previous_run_id', 'string', 'Run id published before, if any.'),
    col('is_forced', 'boolean', 'Published with force although older than the run it replaced.', {
      nullable: false,
    }),
  ],
  partitionKeys: [],
};
