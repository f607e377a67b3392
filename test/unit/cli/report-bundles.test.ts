import { isSifError, SifError } from '../../../src/errors.js';

// The brand every copy of the class carries (a registered symbol: the same in each bundle).
const BRAND = Symbol.for('sif.SifError');

describe('isSifError', () => {
  it("knows a SifError made by another bundle's copy of the class (dist/sif-gpu.cjs)", () => {
    // What the GPU bundle throws: the same class, compiled into another file, so
    // instanceof fails; the brand is a registered symbol, the same in every copy.
    class OtherCopy extends Error {
      readonly [BRAND] = true;
      readonly code = 'SIF_E_USAGE';
      readonly hint = 'a hint';
      constructor(message: string) {
        super(message);
        this.name = 'SifError';
      }
    }
    expect(isSifError(new OtherCopy('x'))).toBe(true);
    expect(isSifError(new SifError('SIF_E_USAGE', 'x'))).toBe(true);
    expect(isSifError(new Error('x'))).toBe(false);
    expect(isSifError(Object.assign(new Error('x'), { name: 'SifError' }))).toBe(false);
    expect(isSifError({ name: 'SifError', code: 'SIF_E_USAGE', message: 'x' })).toBe(false);
    // A look-alike without the brand is not one of ours.
    expect(isSifError(Object.assign(new Error('x'), { name: 'SifError', code: 'SIF_E_USAGE' }))).toBe(false);
  });
});
