import { writeFileSync } from 'node:fs';
import { BI_TABLE_NAMES, dashboardViews } from '../lib/pipeline/views.js';
import { allTables, schemaMarkdown } from '../lib/schema/index.js';

writeFileSync(
  new URL('../docs/schema.md', import.meta.url),
  schemaMarkdown(allTables, { bi: BI_TABLE_NAMES, dashboards: dashboardViews }),
);
