import { createRequire } from 'node:module';
import type { WrappedRE2 } from '@adguard/re2-wasm/build/wasm/re2.js';

/**
 * Checks `sources.history.legacyIdPattern` with a real RE2 (Google's C++ library compiled to
 * WebAssembly by `@adguard/re2-wasm`), the engine behind DuckDB's `regexp_extract`. The package's
 * `RE2` class rewrites JavaScript syntax (`(?<name>` to `(?P<name>`) before compiling, which would
 * hide exactly the errors DuckDB raises, so the raw binding is used: the pattern reaches RE2 as the
 * SQL passes it.
 */

type WrappedRE2Constructor = typeof WrappedRE2;

let engine: WrappedRE2Constructor | undefined;

// Loaded on first use, and through require, so that bundles of lib/config (the prepare-query Lambda
// parses its already-validated configuration) neither carry nor start the WebAssembly module.
function re2(): WrappedRE2Constructor {
  engine ??= (
    createRequire(import.meta.url)('@adguard/re2-wasm/build/wasm/re2.js') as {
      WrappedRE2: WrappedRE2Constructor;
    }
  ).WrappedRE2;
  return engine;
}

/**
 * What is wrong with a legacy id pattern for `regexp_extract(id, pattern, 1)` on both engines, or
 * undefined. RE2 must compile it; it must have exactly one capture group (the MySQL id the SQL
 * extracts as group 1); and that group must be unnamed, since RE2 only knows `(?P<name>...)` and
 * Athena's Joni (Java syntax) only `(?<name>...)`.
 */
export function legacyIdPatternProblem(pattern: string): string | undefined {
  // Embind objects live in the WebAssembly heap: each is freed explicitly once read.
  const using = <T>(source: string, read: (compiled: InstanceType<WrappedRE2Constructor>) => T): T => {
    const compiled = new (re2())(source, false, false, false, 0);
    try {
      return read(compiled);
    } finally {
      (compiled as unknown as { delete(): void }).delete();
    }
  };
  const problem = using(pattern, (compiled) => {
    if (!compiled.ok()) return `expected a regular expression RE2 accepts (RE2: ${compiled.error()})`;
    const names = compiled.capturingGroupNames();
    const keys = names.keys();
    const named = keys.size() > 0;
    for (const handle of [keys, names] as unknown as { delete?: () => void }[]) handle.delete?.();
    return named
      ? 'expected an unnamed capture group: (...) works on DuckDB and Athena alike, named groups do not'
      : undefined;
  });
  if (problem) return problem;
  // The empty alternative always matches, so the match lists every group of the pattern.
  const groups = using(`(?:${pattern})|`, (compiled) => compiled.match('', 0, true).groups.length);
  if (groups !== 1) {
    return `expected exactly one capture group, the MySQL customer id (found ${groups}); use (?:...) for other groups`;
  }
  return undefined;
}
