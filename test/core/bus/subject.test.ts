import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { subjectMatches, validateSubject } from '../../../src/core/bus/subject.js';
import { isMedwardError } from '../../../src/core/errors.js';

/** Independent statement of the NATS matching rule as a regular expression. */
function matchesByRegex(filter: string, subject: string): boolean {
  const pattern = filter
    .split('.')
    .map((token) => {
      if (token === '*') {
        return '[^.]+';
      }
      if (token === '>') {
        return '[^.]+(?:\\.[^.]+)*';
      }
      return token.replace(/[\\^$+?()[\]{}|]/gu, '\\$&');
    })
    .join('\\.');
  return new RegExp(`^${pattern}$`, 'u').test(subject);
}

const token = fc.constantFrom('a', 'b', 'c', 'device', 'x-1', 'é');
const subjectArbitrary = fc
  .array(token, { minLength: 1, maxLength: 5 })
  .map((tokens) => tokens.join('.'));
const filterArbitrary = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'));

void describe('subject rules', () => {
  void test('matching agrees with regex rule', () => {
    fc.assert(
      fc.property(filterArbitrary, subjectArbitrary, (filter, subject) => {
        validateSubject(filter, true);
        validateSubject(subject, false);
        assert.equal(subjectMatches(filter, subject), matchesByRegex(filter, subject));
      }),
      { numRuns: 2_000 },
    );
  });

  void test('validation rejects only with code', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.boolean(), (subject, wildcards) => {
        try {
          validateSubject(subject, wildcards);
        } catch (error) {
          assert.ok(isMedwardError(error));
          assert.equal(error.code, 'BUS_INVALID_SUBJECT');
          return;
        }
        const tokens = subject.split('.');
        assert.ok(tokens.every((part) => part.length > 0));
        assert.ok(!/\s/u.test(subject));
        if (!wildcards) {
          assert.ok(!subject.includes('*'));
          assert.ok(!subject.includes('>'));
        }
      }),
      { numRuns: 2_000 },
    );
  });

  void test('filters match expected subjects', () => {
    const cases: [string, string, boolean][] = [
      ['a.b', 'a.b', true],
      ['a.*', 'a.b', true],
      ['a.*', 'a.b.c', false],
      ['a.>', 'a', false],
      ['a.>', 'a.b.c', true],
      ['>', 'a', true],
      ['*.b', 'a.b', true],
      ['*', 'a.b', false],
    ];
    for (const [filter, subject, expected] of cases) {
      assert.equal(subjectMatches(filter, subject), expected, `${filter} vs ${subject}`);
    }
  });
});
