import cronModule from 'cron-validate';

/**
 * Checks of configuration values against what the services and engines that use them accept, so a
 * value that would fail at deploy time or at run time fails when the configuration is loaded, with
 * its key named. Pure functions: each returns the problem as "expected ..." text, or undefined.
 */

/**
 * The specifiers of `sources.history.dateFormat` that mean the same thing to DuckDB's `strptime`
 * (local runs; `date_parse` is a macro over it, see lib/sql/compat.ts) and to Athena's `date_parse`
 * (Trino's MySQL-style formats). Left out on purpose: `%M` (minutes in DuckDB, month name in Athena),
 * `%i` and `%s` (Athena only), `%y` (the two engines pivot two-digit years differently), `%f` (DuckDB
 * reads at most 6 digits, Athena up to 9), `%a` and `%W` (weekday names and week numbers differ),
 * `%T`, `%r`, `%c`, `%x`, `%X` and `%e` (one engine only, or different meanings).
 */
export const PORTABLE_DATE_SPECIFIERS: Readonly<Record<string, string>> = {
  '%Y': 'four-digit year',
  '%m': 'month 01-12',
  '%d': 'day of month 01-31',
  '%H': 'hour 00-23',
  '%I': 'hour 01-12',
  '%p': 'AM or PM',
  '%S': 'seconds 00-59',
  '%b': 'abbreviated month name (Jan-Dec)',
  '%j': 'day of year 001-366',
  '%%': 'a literal %',
};

/** Names the first specifier of a date format that DuckDB and Athena do not read alike. */
export function dateFormatProblem(format: string): string | undefined {
  const allowed = Object.keys(PORTABLE_DATE_SPECIFIERS).join(' ');
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const specifier = format.slice(i, i + 2);
    if (specifier.length < 2) {
      return `expected a specifier after the trailing "%"; use "%%" for a literal % (portable specifiers: ${allowed})`;
    }
    if (!(specifier in PORTABLE_DATE_SPECIFIERS)) {
      return `expected only specifiers that DuckDB's strptime and Athena's date_parse read alike (${allowed}); ${specifier} is not one`;
    }
    i++;
  }
  return undefined;
}

/**
 * An IANA time zone name as EventBridge Scheduler takes it (`Europe/Paris`, `UTC`). Offsets such as
 * `+01:00` and names in the wrong case are refused; Intl knows the zone database Node ships.
 */
export function timeZoneProblem(name: string): string | undefined {
  const expected = 'expected an IANA time zone name such as "UTC" or "Europe/Paris"';
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return expected;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return expected;
  }
  // Intl matches names case-insensitively; the Scheduler does not.
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) {
    return `${expected} (spelt "${resolved}")`;
  }
  return undefined;
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.*)\)$/;

// cron-validate is CommonJS with `exports.default`: Node's ESM loader (and esbuild's ESM bundle for
// the Lambda) hands over `module.exports`, a transpiler's interop may hand over the function itself.
type CronValidate = typeof cronModule.default;
const cronValidate: CronValidate =
  typeof cronModule === 'function' ? (cronModule as unknown as CronValidate) : cronModule.default;

/**
 * An EventBridge Scheduler `rate(value unit)` or `cron(fields)` expression. Rate: a positive whole
 * value, the unit singular for 1 and plural otherwise (`rate(1 day)`, `rate(5 minutes)`). Cron: six
 * fields (minutes hours day-of-month month day-of-week year), checked with cron-validate's AWS preset
 * (ranges, `L`, `W`, `#`, and `?` in one of the two day fields).
 */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? '';
    if (value < 1) return 'expected a rate value of at least 1, such as rate(1 day)';
    const plural = unit.endsWith('s');
    if (value === 1 && plural) return `expected the singular unit for 1: rate(1 ${unit.slice(0, -1)})`;
    if (value > 1 && !plural) return `expected the plural unit for ${value}: rate(${value} ${unit}s)`;
    return undefined;
  }
  const cron = CRON.exec(expression);
  if (cron) {
    const result = cronValidate((cron[1] ?? '').trim(), { preset: 'aws-cloud-watch' });
    if (result.isValid()) return undefined;
    const reasons = [...new Set(result.getError())].map((e) =>
      e.startsWith('Cannot specify both daysOfMonth and daysOfWeek')
        ? 'one of day-of-month and day-of-week must be "?"'
        : e.replace(/ \(Input cron: .*\)$/, ''),
    );
    return `expected a valid EventBridge Scheduler cron(minutes hours day-of-month month day-of-week year): ${reasons.join('; ')}`;
  }
  return 'expected cron(...) or rate(N unit): cron(minutes hours day-of-month month day-of-week year), rate(1 day), rate(5 minutes)';
}

/** A real calendar date written yyyy-MM-dd. */
export function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}
