import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../lib/config/load.js';

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
      { storage: { rawInfrequentAccessAfterDays: 120, rawGlacierAfterDays: 60 } },
      'storage.rawGlacierAfterDays: got 60; expected more than storage.rawInfrequentAccessAfterDays (120)',
    ],
    [
      { alerts: { emailRecipients: ['ops@example.com'] } },
      'alerts.senderEmail: got nothing; expected a verified SES sender address',
    ],
  ])('rejects %j', (input, expected) => {
    expect(problems(input).join('\n')).toContain(expected);
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
