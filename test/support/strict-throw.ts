import { chai } from 'vitest';

/**
 * `await expect(promise).rejects.toThrow(…)` passes in vitest when the promise rejects with
 * undefined or null, whatever the expected message: a test of a failure path could not fail when
 * the code threw nothing useful (a mutant that replaces an error with `{}` survived that way).
 * Every test file runs with this setup, which makes such a rejection fail `toThrow` and
 * `toThrowError` with a line saying what was received.
 */
for (const name of ['toThrow', 'toThrowError']) {
  chai.util.overwriteMethod(
    chai.Assertion.prototype,
    name,
    (original: (...args: unknown[]) => unknown) =>
      function (this: Chai.AssertionStatic, ...args: unknown[]) {
        const received: unknown = chai.util.flag(this, 'object');
        if (chai.util.flag(this, 'promise') === 'rejects' && received == null) {
          throw new chai.AssertionError(
            `expected the promise to reject with an error, but it rejected with ${String(received)}`,
          );
        }
        return original.apply(this, args);
      },
  );
}
