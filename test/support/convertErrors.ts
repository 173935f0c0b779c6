// What every refusal of the converters promises: a ConvertError naming the file (and key) that is wrong, saying
// what, and that nothing was written.

import assert from 'node:assert/strict';
import { ConvertError } from '../../src/core/errors';

export interface ExpectedConvertError {
  file: string;
  key?: string;
  message: RegExp;
}

/** A predicate for assert.throws / assert.rejects. */
export function isConvertError(expected: ExpectedConvertError): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof ConvertError, String(err));
    assert.equal(err.file, expected.file);
    assert.equal(err.key, expected.key);
    assert.match(err.message, expected.message);
    assert.match(err.message, /Nothing was written\.$/);
    return true;
  };
}
