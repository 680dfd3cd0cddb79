import { writeFileSync } from 'node:fs';
import { allTables, schemaMarkdown } from '../lib/schema/index.js';

writeFileSync(new URL('../docs/schema.md', import.meta.url), schemaMarkdown(allTables));
