import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PORTABLE_DATE_SPECIFIERS } from '../lib/config/checks.js';
import { assertDeployable, NotDeployableError } from '../lib/config/deployable.js';
import { ConfigError, loadConfig, parseConfig, validateConfig } from '../lib/config/load.js';
import { Customer360Stack } from '../lib/stacks/customer360-stack.js';

const run = promisify(execFile);

describe('configuration defaults', () => {
  it('fills every section so synth needs no file', () => {
    const config = parseConfig({});

    expect(config.environment).toBe('dev');
    expect(config.destroyDataOnRemoval).toBe(false);
    expect(config.sources.mysql.port).toBe(3306);
    expect(config.sources.history.columns).toEqual({
      customer: 'customer_id',
      orderDate: 'date',
      amount: 'amount',
      quantity: 'quantity',
    });
    expect(config.analysis.fraud.maxDistinctIps).toBe(5);
    expect(config.schedule.expression).toBe('cron(0 3 * * ? *)');
    expect(config.quicksight.enabled).toBe(false);
    // every source is on unless switched off (issue 18: a history-only retailer turns two off)
    expect(config.sources.mysql.enabled).toBe(true);
    expect(config.sources.dynamodb.enabled).toBe(true);
  });

  it('switches MySQL and DynamoDB off, and refuses a switch that is not a boolean', () => {
    const config = parseConfig({ sources: { mysql: { enabled: false }, dynamodb: { enabled: false } } });
    expect(config.sources.mysql.enabled).toBe(false);
    expect(config.sources.dynamodb.enabled).toBe(false);
    expect(() => parseConfig({ sources: { mysql: { enabled: 'no' as never } } })).toThrow(
      /sources\.mysql\.enabled/,
    );
  });

  it('keeps defaults beside a partial override of a nested section', () => {
    const config = parseConfig({ analysis: { fraud: { maxDistinctIps: 9 } } });

    expect(config.analysis.fraud.maxDistinctIps).toBe(9);
    expect(config.analysis.fraud.maxLoginAttempts).toBe(20);
    expect(config.analysis.churnGapMultiplier).toBe(2);
  });
});

describe('configuration errors name the key, the value and what was expected', () => {
  const problems = (input: unknown): readonly string[] => {
    try {
      parseConfig(input, 'test.json');
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected the configuration to be rejected');
  };

  it.each([
    [{ sources: { mysql: { port: 'abc' } } }, 'sources.mysql.port: got "abc"; expected number'],
    [{ sources: { mysql: { port: 70000 } } }, 'sources.mysql.port: got 70000; expected number to be <=65535'],
    [{ environment: 'Prod!' }, 'environment: got "Prod!"; expected 2-20 lowercase letters'],
    [
      { analysis: { churnGapMultiplier: 0.5 } },
      'analysis.churnGapMultiplier: got 0.5; expected number to be >=1',
    ],
    [
      { schedule: { expression: 'every day' } },
      'schedule.expression: got "every day"; expected cron(...) or rate',
    ],
    [
      { sources: { history: { format: 'xlsx' } } },
      'sources.history.format: got "xlsx"; expected one of "csv"',
    ],
    [{ sources: { mysql: { prot: 1 } } }, 'sources.mysql.prot: unknown key (value 1)'],
    [
      { environment: 'prod', destroyDataOnRemoval: true },
      'destroyDataOnRemoval: got true; expected false when environment is "prod"',
    ],
    [
      { quicksight: { enabled: true } },
      'quicksight.principalArn: got nothing; expected a QuickSight user or group ARN',
    ],
    [
      { quicksight: { enabled: true, principalArn: 'arn:aws:iam::123456789012:role/Analyst' } },
      'quicksight.principalArn: got "arn:aws:iam::123456789012:role/Analyst"; expected a QuickSight user or group ARN',
    ],
    [
      { storage: { rawInfrequentAccessAfterDays: 120, rawGlacierAfterDays: 60 } },
      'storage.rawGlacierAfterDays: got 60; expected more than storage.rawInfrequentAccessAfterDays (120)',
    ],
    [
      { alerts: { emailRecipients: ['ops@example.com'] } },
      'alerts.senderEmail: got nothing; expected a verified SES sender address',
    ],
    // decimal(12, 2) holds 10 digits before the point: 1e10 has 11 and overflows the SQL cast.
    [
      { analysis: { fraud: { highValueOrderTotal: 1e10 } } },
      'analysis.fraud.highValueOrderTotal: got 10000000000; expected at most 9999999999.99 (SQL decimal(12, 2))',
    ],
    [
      { analysis: { fraud: { highValueOrderTotal: 10.005 } } },
      'analysis.fraud.highValueOrderTotal: got 10.005; expected at most two decimal places',
    ],
    [
      { analysis: { fraud: { highValueOrderTotal: 0.001 } } },
      'analysis.fraud.highValueOrderTotal: got 0.001; expected at least 0.01',
    ],
    // 2^31 is one past the largest SQL int.
    [
      { analysis: { fraud: { maxDistinctIps: 2 ** 31 } } },
      'analysis.fraud.maxDistinctIps: got 2147483648; expected a whole number from 1 to 2147483647 (SQL int)',
    ],
    [
      { identity: { maxSourceIdsPerCustomer: 1e12 } },
      'identity.maxSourceIdsPerCustomer: got 1000000000000; expected a whole number from 1 to 2147483647',
    ],
    [
      { analysis: { maxSourceStalenessDays: 100_000 } },
      'analysis.maxSourceStalenessDays: got 100000; expected a whole number of days from 1 to 3650',
    ],
    [
      { sources: { history: { dateFormat: '%Q%%' } } },
      `sources.history.dateFormat: got "%Q%%"; expected only specifiers that DuckDB's strptime and Athena's date_parse read alike`,
    ],
    [{ sources: { history: { dateFormat: '%Q%%' } } }, '; %Q is not one'],
    // %M is minutes to DuckDB and the month name to Athena.
    [{ sources: { history: { dateFormat: '%Y-%m-%d %H:%M' } } }, '; %M is not one'],
    [{ sources: { history: { dateFormat: '%d%' } } }, 'expected a specifier after the trailing "%"'],
    [
      { identity: { blockedEmails: ['walkin@store.local', 'nul\u0000@example.com'] } },
      'identity.blockedEmails.1: got "nul\\u0000@example.com"; expected an address without control characters',
    ],
    [
      { identity: { blockedEmails: ['tab\t@example.com'] } },
      'identity.blockedEmails.0: got "tab\\t@example.com"; expected an address without control characters',
    ],
    [
      { schedule: { timezone: 'Mars/Olympus_Mons' } },
      'schedule.timezone: got "Mars/Olympus_Mons"; expected an IANA time zone name',
    ],
    [
      { schedule: { timezone: '+01:00' } },
      'schedule.timezone: got "+01:00"; expected an IANA time zone name',
    ],
    [{ schedule: { timezone: 'europe/paris' } }, '(spelt "Europe/Paris")'],
    [
      { schedule: { expression: 'rate(1 minutes)' } },
      'schedule.expression: got "rate(1 minutes)"; expected the singular unit for 1: rate(1 minute)',
    ],
    [
      { schedule: { expression: 'rate(0 days)' } },
      'schedule.expression: got "rate(0 days)"; expected a rate value of at least 1',
    ],
    [
      { schedule: { expression: 'rate(5 hour)' } },
      'schedule.expression: got "rate(5 hour)"; expected the plural unit for 5: rate(5 hours)',
    ],
    [
      { schedule: { expression: 'cron(0 3 * * * *)' } },
      'schedule.expression: got "cron(0 3 * * * *)"; expected a valid EventBridge Scheduler cron',
    ],
    [{ schedule: { expression: 'cron(0 3 * * * *)' } }, 'one of day-of-month and day-of-week must be "?"'],
    [{ schedule: { expression: 'cron(0 3 * * ?)' } }, 'Expected 6 values, but got 5'],
    [
      { schedule: { expression: 'cron(0 24 * * ? *)' } },
      "Number '24' of hours field is bigger than upper limit '23'",
    ],
    [
      { athena: { partitionProjectionStart: '2019-02-30' } },
      'athena.partitionProjectionStart: got "2019-02-30"; expected a date written yyyy-MM-dd',
    ],
  ])('rejects %j', (input, expected) => {
    expect(problems(input).join('\n')).toContain(expected);
  });

  it.each([
    { analysis: { fraud: { highValueOrderTotal: 9_999_999_999.99, maxDistinctIps: 2_147_483_647 } } },
    { analysis: { fraud: { highValueOrderTotal: 0.07 } } },
    { sources: { history: { dateFormat: '%d/%m/%Y %I:%S %p' } } },
    { sources: { history: { dateFormat: '%d %b %Y, day %j, 100%%' } } },
    { identity: { blockedEmails: ['walkin@store.local'] } },
    { schedule: { timezone: 'Europe/Paris', expression: 'rate(1 day)' } },
    { schedule: { timezone: 'America/Argentina/Buenos_Aires', expression: 'rate(15 minutes)' } },
    { schedule: { expression: 'cron(0 18 ? * MON-FRI *)' } },
    { schedule: { expression: 'cron(0/15 * L * ? 2027)' } },
    { athena: { partitionProjectionStart: '2012-02-29' } },
  ])('accepts %j', (input) => {
    expect(() => validateConfig(input)).not.toThrow();
  });

  it('reports every bad key at once, with the file it came from', () => {
    expect(() =>
      parseConfig({ environment: 'X', athena: { bytesScannedCutoffPerQuery: 5 } }, 'my.json'),
    ).toThrow(
      /Invalid configuration in my\.json:\n {2}- environment: .*\n {2}- athena\.bytesScannedCutoffPerQuery: got 5/,
    );
  });
});

describe('configuration files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'c360-config-'));

  it('uses all defaults when the default file is absent', () => {
    expect(loadConfig(undefined, dir).environment).toBe('dev');
  });

  it('rejects an explicitly named file that does not exist', () => {
    expect(() => loadConfig('nope.json', dir)).toThrow(/nope\.json:\n {2}- file not found/);
  });

  it('rejects a file that is not JSON', () => {
    writeFileSync(join(dir, 'broken.json'), '{ environment: ');
    expect(() => loadConfig('broken.json', dir)).toThrow(/broken\.json:\n {2}- not valid JSON/);
  });

  it('makes `cdk synth` fail with the named-key message', async () => {
    const file = join(dir, 'bad-port.json');
    writeFileSync(file, JSON.stringify({ sources: { mysql: { port: 'abc' } } }));

    const synth = run('npx', ['cdk', 'synth', '--quiet', '-c', `config=${file}`, '-o', join(dir, 'out')], {
      cwd: join(import.meta.dirname, '..'),
    });

    await expect(synth).rejects.toMatchObject({
      stderr: expect.stringContaining('sources.mysql.port: got "abc"; expected number'),
    });
  });
});

describe('values checked against the engines that run them', () => {
  const legacyProblems = (legacyIdPattern: string): string => {
    try {
      validateConfig({ sources: { history: { legacyIdPattern } } }, 'test.json');
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.join('\n');
      throw error;
    }
    throw new Error('expected the pattern to be rejected');
  };

  it.each([
    // RE2's own message, the one DuckDB raises (see the DuckDB test below).
    [
      '(?<x>a)b',
      'sources.history.legacyIdPattern: got "(?<x>a)b"; expected a regular expression RE2 accepts (RE2: invalid perl operator: (?<)',
    ],
    ['L(\\d+', 'expected a regular expression RE2 accepts (RE2: missing ): L(\\d+)'],
    ['L(?=0)(\\d+)', 'RE2: invalid perl operator: (?='],
    ['(L)\\1', 'RE2: invalid escape sequence: \\1'],
    // RE2 accepts (?P<x>...), Athena's Java syntax does not.
    ['^L0*(?P<id>[0-9]+)$', 'expected an unnamed capture group'],
    ['^L0*[0-9]+$', 'expected exactly one capture group, the MySQL customer id (found 0)'],
    ['^(L)0*([0-9]+)$', 'expected exactly one capture group, the MySQL customer id (found 2)'],
  ])('rejects the legacy id pattern %s with the key named', (pattern, expected) => {
    expect(legacyProblems(pattern)).toContain(expected);
  });

  it.each(['^L0*([0-9]+)$', '(?i)^l0*(\\d+)$', '^(?:L|LEG-)0*([0-9]+)$', '[^\\s\\S](x)'])(
    'accepts the RE2 pattern %s',
    (legacyIdPattern) => {
      expect(
        validateConfig({ sources: { history: { legacyIdPattern } } }).sources.history.legacyIdPattern,
      ).toBe(legacyIdPattern);
    },
  );

  it('refuses a bad pattern in a file, as `c360 run` and `cdk synth` load it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'c360-config-re2-'));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ sources: { history: { legacyIdPattern: '(?<x>a)b' } } }),
    );
    expect(() => loadConfig('bad.json', dir)).toThrow(
      /bad\.json:\n {2}- sources\.history\.legacyIdPattern: got "\(\?<x>a\)b"; expected a regular expression RE2 accepts/,
    );
  });

  it('matches what DuckDB does with the same values', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const scalar = async (sql: string) => (await connection.runAndReadAll(sql)).getRows()[0]?.[0]?.toString();
    try {
      // The values refused above fail in DuckDB as the brief describes.
      await expect(scalar(`select strptime('x', '%Q%%')`)).rejects.toThrow(
        /Unrecognized format for strftime\/strptime: %Q/,
      );
      await expect(scalar(`select regexp_extract('ab', '(?<x>a)b', 1)`)).rejects.toThrow(
        /invalid perl operator: \(\?</,
      );
      await expect(scalar('select cast(10000000000 as decimal(12, 2))')).rejects.toThrow(
        /out of range|Could not cast/i,
      );
      expect(await scalar('select cast(9999999999.99 as decimal(12, 2))')).toBe('9999999999.99');
      // Every portable specifier, with the meaning PORTABLE_DATE_SPECIFIERS gives it (worked by hand:
      // day 065 of 2024 is 5 March; 01 PM is 13:00).
      const parsed = {
        "strptime('2024/03/05 13 07', '%Y/%m/%d %H %S')": '2024-03-05 13:00:07',
        "strptime('05 Mar 2024 01 PM', '%d %b %Y %I %p')": '2024-03-05 13:00:00',
        "strptime('2024 065', '%Y %j')": '2024-03-05 00:00:00',
        "strptime('5% 2024-03', '%d%% %Y-%m')": '2024-03-05 00:00:00',
      };
      const used = Object.keys(parsed).join(' ');
      for (const specifier of Object.keys(PORTABLE_DATE_SPECIFIERS)) expect(used).toContain(specifier);
      for (const [expression, expected] of Object.entries(parsed)) {
        expect(await scalar(`select ${expression}`)).toBe(expected);
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

describe('deployable configuration', () => {
  const network = {
    subnetId: 'subnet-0123abcd',
    securityGroupIds: ['sg-0123abcd'],
    availabilityZone: 'eu-west-1b',
  };

  it('refuses the defaults with one message listing every placeholder key', () => {
    let error: unknown;
    try {
      assertDeployable(parseConfig({}), 'customer360.config.json');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NotDeployableError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Not deployable: customer360\.config\.json still has placeholder values/);
    for (const key of [
      'sources.mysql.host',
      'sources.mysql.network.subnetId',
      'sources.mysql.network.securityGroupIds',
      'sources.mysql.network.availabilityZone',
    ]) {
      expect(message).toContain(`  - ${key}: set to `);
    }
    expect(message).toContain('npx cdk synth -c allowPlaceholders=true');
  });

  it('asks nothing of a disabled MySQL source: it has no connection to deploy', () => {
    expect(() => assertDeployable(parseConfig({ sources: { mysql: { enabled: false } } }))).not.toThrow();
  });

  it('lists only the keys still unset', () => {
    expect(() => assertDeployable(parseConfig({ sources: { mysql: { network } } }))).toThrow(
      /Set these keys:\n {2}- sources\.mysql\.host: set to [^\n]*\nTo look/,
    );
  });

  it('accepts a configuration with every key set, a subnet in us-east-1a keeping that zone', () => {
    const host = 'orders.abc123.eu-west-1.rds.amazonaws.com';
    expect(() => assertDeployable(parseConfig({ sources: { mysql: { host, network } } }))).not.toThrow();
    const inPlaceholderZone = { ...network, availabilityZone: 'us-east-1a' };
    expect(() =>
      assertDeployable(parseConfig({ sources: { mysql: { host, network: inPlaceholderZone } } })),
    ).not.toThrow();
  });
});

describe('partition projection start', () => {
  it('reaches the projected date range of every Glue table', () => {
    // The stack alone, without cdk-nag and without bundling the Lambda: only the catalog is looked at.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Customer360Stack(app, 'Projection', {
      config: parseConfig({ athena: { partitionProjectionStart: '2015-06-01' } }),
    });
    const template = Template.fromStack(stack);
    const ranges = Object.values(template.findResources('AWS::Glue::Table')).flatMap((table) =>
      Object.entries(table.Properties.TableInput.Parameters as Record<string, string>)
        .filter(([key]) => /^projection\.[a-z_]+\.range$/.test(key))
        .map(([, value]) => value),
    );
    expect(ranges.length).toBeGreaterThan(10);
    expect(new Set(ranges)).toEqual(new Set(['2015-06-01,NOW']));
  });
});

describe('`cdk synth` for deployment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'c360-synth-'));
  const cdk = (...args: string[]) =>
    run('npx', ['cdk', 'synth', '--quiet', '-o', join(dir, 'out'), ...args], {
      cwd: join(import.meta.dirname, '..'),
    });

  it('refuses the placeholders, naming every key to set', async () => {
    const synth = cdk();
    await expect(synth).rejects.toMatchObject({
      stderr: expect.stringMatching(
        /Not deployable: the default configuration \(no customer360\.config\.json\) still has placeholder values[\s\S]*sources\.mysql\.host[\s\S]*sources\.mysql\.network\.subnetId[\s\S]*sources\.mysql\.network\.securityGroupIds[\s\S]*sources\.mysql\.network\.availabilityZone/,
      ),
    });
  });

  it('synthesizes them offline with -c allowPlaceholders=true', async () => {
    await cdk('-c', 'allowPlaceholders=true');
    expect(existsSync(join(dir, 'out', 'Customer360-dev.template.json'))).toBe(true);
    // A whole synthesis with Lambda bundling and cdk-nag: slow on a busy 2-core machine.
  }, 300_000);
});
