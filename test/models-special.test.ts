import cephes from 'cephes';
import { Decimal } from 'decimal.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureSpecialFunctions, hyp2f1, lbeta, lgamma, logAddExp } from '../lib/models/special.js';
import { hyp2f1Series, lnGamma } from './helpers/decimal-reference.js';

/*
 * The special functions at the arguments the CLV models reach, against independent values: ln Gamma
 * by an 80-digit Stirling series (test/helpers/decimal-reference.ts), 2F1 by 80-digit direct summation
 * where the series converges and by closed forms where it does not (x < -1).
 */

const relErr = (got: number, want: number) => Math.abs(got / want - 1);

describe('special functions', () => {
  it('refuse to run before the WebAssembly module is loaded, naming the fix', () => {
    expect(() => lgamma(1)).toThrow(/await ensureSpecialFunctions\(\)/);
  });

  describe('once loaded', () => {
    beforeAll(async () => {
      await ensureSpecialFunctions();
    });

    it('lgamma matches an 80-digit Stirling series from 1e-300 to 1e10 (relative 1e-13)', () => {
      for (const x of [1e-300, 1e-9, 1e-4, 0.2426, 0.5, 1.5, 2.4262, 17.3, 2000.2426, 1e6, 1e10]) {
        const want = lnGamma(x).toNumber();
        expect(relErr(lgamma(x), want), `lgamma(${x})`).toBeLessThan(1e-13);
      }
      // Zeros of ln Gamma, where a relative check means nothing.
      expect(Math.abs(lgamma(1))).toBeLessThan(1e-15);
      expect(Math.abs(lgamma(2))).toBeLessThan(1e-15);
    });

    it('lbeta keeps its digits with one argument tiny or huge (relative 1e-13; Cephes alone: 7e-5 at b = 1e12)', () => {
      for (const [a, b] of [
        [1e-10, 2000],
        [0.5, 1e12],
        [0.793, 2.4262],
        [0.793, 99.9],
        [0.793, 100],
        [50, 150],
        [0.793, 9999],
        [0.793, 1e6],
        [2000.8, 1e6],
        [3e4, 5e4],
        [6.25, 3.74],
      ] as const) {
        const want = lnGamma(a)
          .plus(lnGamma(b))
          .minus(lnGamma(new Decimal(a).plus(b)))
          .toNumber();
        expect(relErr(lbeta(a, b), want), `lbeta(${a}, ${b})`).toBeLessThan(1e-13);
      }
    });

    it('cephes hyp2f1 itself throws for every x < -1 (the reason for the wrapper)', () => {
      expect(() => cephes.hyp2f1(0.24, -0.207, 2.22, -5)).toThrow(/overflow range error/);
      expect(() => cephes.hyp2f1(1, 1, 2, -1.0001)).toThrow(/overflow range error/);
    });

    it('hyp2f1 below -1 matches closed forms within the documented 1e-16 (1 - x)(1 + max |parameter|)', () => {
      const bound = (x: number, largest: number) => 4e-16 * (1 - x) * (1 + largest);
      for (const x of [-1.5, -5, -50, -1e3, -1e6]) {
        // 2F1(1, 1; 2; x) = -ln(1 - x) / x (Abramowitz & Stegun 15.1.3).
        expect(relErr(hyp2f1(1, 1, 2, x), -Math.log1p(-x) / x), `ln form at ${x}`).toBeLessThan(bound(x, 1));
        // 2F1(1/2, 1; 3/2; -y^2) = arctan(y) / y (A&S 15.1.5).
        const y = Math.sqrt(-x);
        expect(relErr(hyp2f1(0.5, 1, 1.5, x), Math.atan(y) / y), `arctan form at ${x}`).toBeLessThan(
          bound(x, 1),
        );
        // 2F1(a, b; b; x) = (1 - x)^(-a) (A&S 15.1.8), with a = r + x of a heavy buyer.
        expect(relErr(hyp2f1(20.2426, 3.1, 3.1, x), (1 - x) ** -20.2426), `power form at ${x}`).toBeLessThan(
          bound(x, 20.2426),
        );
      }
      // Near -1 that bound is a few 1e-15: the transformation itself costs nothing there.
      expect(relErr(hyp2f1(1, 1, 2, -5), Math.log(6) / 5)).toBeLessThan(4e-15);
    });

    it('hyp2f1 with large parameters and near z = 1 matches 80-digit direct summation (relative 1e-12)', () => {
      const cases: [number, number, number, number][] = [
        [2000.2426, 0.5, 2002, -0.5], // a heavy buyer's Pfaff form, alternating series
        [2000.2426, -0.207, 2002.2, -0.9],
        [-0.207, 1.9858, 2.2192, 0.99], // the z form for a one-time buyer far ahead, via Cephes' 1 - z branch
        [0.793, 2.4262, 3.2192, 0.95], // c - a - b = 0: the logarithmic case of the 1 - z transformation
      ];
      for (const [a, b, c, x] of cases) {
        const want = hyp2f1Series(new Decimal(a), new Decimal(b), new Decimal(c), new Decimal(x)).toNumber();
        expect(relErr(hyp2f1(a, b, c, x), want), `hyp2f1(${a}, ${b}, ${c}, ${x})`).toBeLessThan(1e-12);
      }
    });

    it('logAddExp neither overflows nor underflows', () => {
      expect(logAddExp(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 12);
      expect(logAddExp(-1000, -1000)).toBeCloseTo(-1000 + Math.LN2, 12);
      expect(logAddExp(0, Number.NEGATIVE_INFINITY)).toBe(0);
      expect(logAddExp(Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
    });
  });
});
