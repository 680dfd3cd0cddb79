// cephes 3.3.3 ships index.d.ts, but its package.json "exports" has no "types" condition, so NodeNext
// resolution cannot see it. The functions the models use, with the package's own signatures.
declare module 'cephes' {
  interface Cephes {
    /** Resolves once the WebAssembly module is compiled. */
    compiled: Promise<void>;
    lgam(x: number): number;
    lbeta(a: number, b: number): number;
    hyp2f1(a: number, b: number, c: number, x: number): number;
    psi(x: number): number;
  }
  const cephes: Cephes;
  export default cephes;
}
