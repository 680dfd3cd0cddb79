import cephes from 'cephes';

/**
 * Special functions for the CLV models, from Cephes (Moshier's library, compiled to WebAssembly by the
 * `cephes` package). Thin wrappers: each says what the models rely on and what Cephes does at the
 * edges, measured on cephes 3.3.3 (test/models-special.test.ts pins it).
 *
 * Cephes reports domain and range errors by throwing (`cephes reports "overflow range error" in
 * hyp2f1`), never by returning NaN; the wrappers keep that, so a wrong argument fails loudly.
 */

let loaded = false;

/** Loads the WebAssembly module. Await once (per process) before calling anything below. */
export async function ensureSpecialFunctions(): Promise<void> {
  await cephes.compiled;
  loaded = true;
}

function assertLoaded(fn: string): void {
  if (!loaded) {
    throw new Error(
      `${fn}: special functions not loaded; await ensureSpecialFunctions() once before fitting or scoring`,
    );
  }
}

/**
 * ln |Gamma(x)|. Accurate over the whole positive axis: lgamma(1e-300) = 690.78 (= -ln x),
 * lgamma(1e300) = 6.9e302; the models call it with arguments from about 1e-9 (a, r near 0) to a few
 * thousand (r + x, b + x with x up to thousands of repeat purchases).
 */
export function lgamma(x: number): number {
  assertLoaded('lgamma');
  return cephes.lgam(x);
}

/** Above this, lbeta uses the Stirling difference below instead of Cephes' lbeta. */
const LBETA_LARGE = 100;

/**
 * ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b), for a, b > 0.
 *
 * Cephes' lbeta loses digits when one argument is large: measured against an 80-digit reference, a
 * relative error of 2.5e-12 at lbeta(0.793, 9999), 1e-11 at (0.793, 1e6) and 7e-5 at (0.5, 1e12). When
 * the larger argument is 100 or more this uses ln Gamma(small) minus ln Gamma(big + small) - ln Gamma(big), the latter from the
 * difference of Stirling series written so nothing cancels:
 *   (big - 1/2) log1p(small/big) + small ln(big + small) - small + (1/(big+small) - 1/big)/12
 *   - (1/(big+small)^3 - 1/big^3)/360 + (1/(big+small)^5 - 1/big^5)/1260,
 * whose next term is below 1e-18 there.
 */
export function lbeta(a: number, b: number): number {
  assertLoaded('lbeta');
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < LBETA_LARGE) return cephes.lbeta(a, b);
  const sum = big + small;
  const lgammaRatio =
    (big - 0.5) * Math.log1p(small / big) +
    small * Math.log(sum) -
    small +
    (1 / sum - 1 / big) / 12 -
    (1 / sum ** 3 - 1 / big ** 3) / 360 +
    (1 / sum ** 5 - 1 / big ** 5) / 1260;
  return cephes.lgam(small) - lgammaRatio;
}

/**
 * Gauss's hypergeometric function 2F1(a, b; c; x) for real x <= 1.
 *
 * Cephes' hyp2f1 covers -1 <= x < 1 (with its own transformations near x = 1, including c - a - b near
 * an integer) but throws "overflow range error" for every x < -1, with any parameters. Below -1 this
 * wrapper applies Pfaff's transformation first,
 *   2F1(a, b; c; x) = (1 - x)^(-a) 2F1(a, c - b; c; x / (x - 1)),
 * which maps x in (-inf, -1) to x / (x - 1) in (1/2, 1), where Cephes converges. Of the two Pfaff forms
 * it uses the one whose power has the smaller |exponent|, so the prefactor stays as tame as possible.
 * Accuracy far below -1 is limited by 1 - x/(x - 1) = 1/(1 - x) being formed inside Cephes from the
 * rounded x/(x - 1): measured relative error up to about 1e-16 (1 - x)(1 + largest |parameter|), e.g.
 * 1e-9 at x = -1e6 with a parameter of 20. The models never call it below -1 (see bgnbd.ts).
 */
export function hyp2f1(a: number, b: number, c: number, x: number): number {
  assertLoaded('hyp2f1');
  if (x >= -1) return cephes.hyp2f1(a, b, c, x);
  const y = x / (x - 1);
  if (Math.abs(a) <= Math.abs(b)) return (1 - x) ** -a * cephes.hyp2f1(a, c - b, c, y);
  return (1 - x) ** -b * cephes.hyp2f1(c - a, b, c, y);
}

/** ln(exp(u) + exp(v)) without overflow or underflow; -Infinity terms are allowed. */
export function logAddExp(u: number, v: number): number {
  const m = Math.max(u, v);
  if (m === Number.NEGATIVE_INFINITY) return m;
  return m + Math.log1p(Math.exp(Math.min(u, v) - m));
}
