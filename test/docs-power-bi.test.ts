import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { DataCatalog } from '../lib/constructs/data-catalog.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { biTables, dashboardViews } from '../lib/pipeline/views.js';
import { martTables } from '../lib/schema/marts/index.js';
import { synthStack } from './helpers/stack.js';

/*
 * Keeps docs/power-bi.md true to the code: the views it tells people to load exist (and the dashboard
 * views' grains are the declared ones), every stack output it names is in the template, its IAM policy
 * parses, is filled completely by its own script, stays read-only outside the results prefix the
 * workgroup enforces, and covers what the pipeline's own query grant needs in Athena and Glue.
 */

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'power-bi.md'), 'utf8');

/** The text of the `## ` section whose heading contains `title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = doc.split('\n').findIndex((line) => line.startsWith('## ') && line.includes(title));
  if (start < 0) throw new Error(`docs/power-bi.md has no section "${title}"`);
  const lines = doc.split('\n').slice(start + 1);
  const end = lines.findIndex((line) => line.startsWith('## '));
  return lines.slice(0, end < 0 ? undefined : end).join('\n');
}

/** Body rows (cells trimmed) of every Markdown table in `text` whose header's first cell is `firstHeader`. */
function tableRows(text: string, firstHeader: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split('|')
      .map((cell) => cell.trim());
    if (!inTable) {
      inTable = cells[0] === firstHeader;
      continue;
    }
    if (cells.every((cell) => /^-+$/.test(cell))) continue;
    rows.push(cells);
  }
  return rows;
}

/** The contents of the fenced code blocks of a language, in order. */
function codeBlocks(lang: string): string[] {
  const fence = '```';
  return [...doc.matchAll(new RegExp(`${fence}${lang}\\n([\\s\\S]*?)${fence}`, 'g'))].map((m) => m[1] ?? '');
}

const unticked = (cell: string) => cell.replace(/^`|`$/g, '');

const policyText = codeBlocks('json')[0] ?? '';
const fillScript = codeBlocks('sh').find((block) => block.includes('sed ')) ?? '';
/** The stack outputs the policy refers to: capitalized `<Placeholders>`. */
const outputPlaceholders = [...new Set([...policyText.matchAll(/<([A-Z][A-Za-z0-9]+)>/g)].map((m) => m[1]))];

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

/** The policy with every placeholder replaced by a plausible value, parsed. */
function filledPolicy(): { Version: string; Statement: Statement[] } {
  const filled = policyText.replace(/<([A-Za-z-]+)>/g, (_, name: string) =>
    name === 'LakeKeyArn' ? 'arn:aws:kms:eu-west-1:123456789012:key/abcd' : `filled-${name.toLowerCase()}`,
  );
  expect(filled).not.toMatch(/[<>]/);
  return JSON.parse(filled);
}

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat());
const resourcesOf = (statement: Statement) => [statement.Resource].flat();

describe('docs/power-bi.md views', () => {
  const knownViews = new Set([
    ...biTables.map((t) => `${t.name}_latest`),
    ...dashboardViews.map((v) => v.name),
  ]);

  it('lists every dashboard view, in declaration order, with its declared grain', () => {
    const rows = tableRows(section('Which views to load'), 'view').filter((cells) =>
      unticked(cells[0] ?? '').startsWith('dashboard_'),
    );
    expect(rows.map((cells) => unticked(cells[0] ?? ''))).toEqual(dashboardViews.map((v) => v.name));
    for (const [index, view] of dashboardViews.entries()) expect(rows[index]?.[1]).toBe(view.grain);
  });

  it('lists every _latest view of the BI contract', () => {
    const listed = tableRows(section('Which views to load'), 'view').map((cells) => unticked(cells[0] ?? ''));
    const mentioned = new Set([...listed, ...[...doc.matchAll(/`([a-z0-9_]+_latest)`/g)].map((m) => m[1])]);
    for (const table of biTables) expect(mentioned, `${table.name}_latest`).toContain(`${table.name}_latest`);
  });

  it('names no view that does not exist', () => {
    const named = [...doc.matchAll(/\b([a-z0-9_]+_latest|dashboard_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? '');
    expect(named.length).toBeGreaterThan(20);
    for (const name of named) expect(knownViews, name).toContain(name);
  });

  it('points at published_runs as a table readable without naming a run', () => {
    expect(doc).toContain('`published_runs`');
    const publishedRuns = martTables.find((t) => t.name === 'published_runs');
    expect(publishedRuns?.zone).toBe('analytics');
    expect(publishedRuns?.partitionKeys).toEqual([]);
  });
});

describe('docs/power-bi.md against the synthesized stack', () => {
  const { template } = synthStack();
  const json = template.toJSON();
  const outputs = Object.keys(json.Outputs);
  const [workGroup] = Object.values(template.findResources('AWS::Athena::WorkGroup'));
  if (!workGroup) throw new Error('the stack has no Athena workgroup');

  it('names only stack outputs the stack has', () => {
    const tabled = tableRows(section('Read the stack outputs'), 'output').map((cells) =>
      unticked(cells[0] ?? ''),
    );
    expect(tabled).toEqual(
      expect.arrayContaining(['AthenaWorkGroup', 'AnalyticsDatabase', 'AthenaResultsLocation', 'LakeKeyArn']),
    );
    const dsnValues = tableRows(section('Create the DSN'), 'DSN dialog field').map((cells) => cells[2] ?? '');
    const dsnOutputs = dsnValues.flatMap((value) =>
      [...value.matchAll(/the `([A-Za-z]+)` output/g)].map((m) => m[1]),
    );
    expect(dsnOutputs).toEqual(['AnalyticsDatabase', 'AthenaWorkGroup', 'AthenaResultsLocation']);
    for (const name of [...tabled, ...dsnOutputs, ...outputPlaceholders])
      expect(outputs, name).toContain(name);
  });

  it('gives the default workgroup and database names the stack outputs', () => {
    const rows = tableRows(section('Read the stack outputs'), 'output');
    const defaultOf = (name: string) => rows.find((cells) => unticked(cells[0] ?? '') === name)?.[1] ?? '';
    expect(defaultOf('AthenaWorkGroup')).toContain(`\`${json.Outputs.AthenaWorkGroup.Value}\``);
    expect(defaultOf('AnalyticsDatabase')).toContain(`\`${json.Outputs.AnalyticsDatabase.Value}\``);
  });

  it('relies on an enforced workgroup writing to the results/ prefix the policy allows', () => {
    expect(workGroup.Properties.WorkGroupConfiguration.EnforceWorkGroupConfiguration).toBe(true);
    const location = workGroup.Properties.WorkGroupConfiguration.ResultConfiguration.OutputLocation;
    const [, [scheme, bucket, prefix]] = location['Fn::Join'];
    expect([scheme, prefix]).toEqual(['s3://', '/results/']);
    expect(json.Outputs.AthenaResultsBucketName.Value).toEqual(bucket);
    expect(doc).toContain('EnforceWorkGroupConfiguration: true');
    expect(policyText).toContain(`"arn:aws:s3:::<AthenaResultsBucketName>${prefix}*"`);
  });

  it('relies on a key policy that lets IAM policies in the account grant the key', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    const lakeKey = keys.find((key) =>
      JSON.stringify(key.Properties.Description ?? '').includes('Customer 360 data lake'),
    );
    const statements = lakeKey?.Properties.KeyPolicy.Statement ?? [];
    const delegation = statements.find((s: { Action: unknown }) => s.Action === 'kms:*');
    expect(JSON.stringify(delegation?.Principal)).toContain(':root');
  });
});

describe('docs/power-bi.md IAM policy', () => {
  it('parses as a policy once filled, and the fill script replaces every placeholder', () => {
    const policy = filledPolicy();
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement.length).toBeGreaterThan(5);
    const placeholders = new Set([...policyText.matchAll(/<([A-Za-z-]+)>/g)].map((m) => m[1]));
    for (const name of placeholders) expect(fillScript, `<${name}>`).toContain(`s|<${name}>|`);
    for (const name of outputPlaceholders) expect(fillScript).toContain(`out ${name}`);
  });

  it('only allows, and writes nothing outside the query results prefix', () => {
    const policy = filledPolicy();
    for (const statement of policy.Statement) expect(statement.Effect).toBe('Allow');
    const writes =
      /^(s3:(Put|Delete|Restore)|glue:(Create|Update|Delete|Batch(Create|Delete|Update))|athena:(Create|Update|Delete))/;
    for (const statement of policy.Statement) {
      const writing = [statement.Action].flat().filter((action) => writes.test(action));
      if (writing.length === 0) continue;
      expect(writing).toEqual(['s3:PutObject']);
      expect(resourcesOf(statement)).toEqual(['arn:aws:s3:::filled-athenaresultsbucketname/results/*']);
    }
    expect(actionsOf(policy.Statement)).not.toContain('kms:Encrypt');
  });

  it('scopes the queries to the workgroup and Glue to the analytics database', () => {
    const policy = filledPolicy();
    const query = policy.Statement.find((s) => [s.Action].flat().includes('athena:StartQueryExecution'));
    expect(resourcesOf(query as Statement)).toEqual([
      'arn:aws:athena:filled-region:filled-account-id:workgroup/filled-athenaworkgroup',
    ]);
    const glue = policy.Statement.find((s) => [s.Action].flat().includes('glue:GetTable'));
    expect(resourcesOf(glue as Statement)).toEqual([
      'arn:aws:glue:filled-region:filled-account-id:catalog',
      'arn:aws:glue:filled-region:filled-account-id:database/filled-analyticsdatabase',
      'arn:aws:glue:filled-region:filled-account-id:table/filled-analyticsdatabase/*',
    ]);
  });

  it("covers the Athena and Glue actions of the pipeline's own query grant", () => {
    // The pipeline's Lambdas query the same workgroup through DataCatalog.grantQuery; a BI principal
    // that lacks one of its Athena or Glue actions would fail where the pipeline succeeds.
    const stack = new Stack(new App(), 'Grant');
    const storage = new DataLakeStorage(stack, 'Storage');
    const catalog = new DataCatalog(stack, 'Catalog', { storage, tables: [] });
    const role = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    catalog.grantQuery(role, ['analytics']);
    const granted = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .flatMap((s: Statement) => [s.Action].flat())
      .filter((action) => /^(athena|glue):/.test(action));
    expect(granted.length).toBeGreaterThan(5);
    const documented = actionsOf(filledPolicy().Statement);
    for (const action of granted) expect(documented, action).toContain(action);
  });
});

describe('docs/power-bi.md configuration defaults', () => {
  const defaults = parseConfig({});

  it('states the default schedule and per-query scan cutoff', () => {
    expect(doc).toContain(`\`${defaults.schedule.expression}\` in ${defaults.schedule.timezone}`);
    expect(doc).toContain(`default ${defaults.athena.bytesScannedCutoffPerQuery / 1024 ** 3} GiB`);
  });
});
