import { invalid } from '../errors.js';

/** Maximum length of a subject as callers write it, before the bus adds its prefix. */
export const maxSubjectLength = 256;

/** First token of dead-letter subjects; publishers may not use it. */
export const deadLetterToken = 'deadletter';

// NATS rejects whitespace inside subjects; control characters are rejected too
// because they have no meaning in a subject and break log lines.
// eslint-disable-next-line no-control-regex
const forbiddenCharacters = /[\s\u0000-\u001f\u007f]/u;

/**
 * Throws `BUS_INVALID_SUBJECT` unless `subject` is a valid NATS subject: one or
 * more non-empty dot-separated tokens without whitespace. With `allowWildcards`,
 * a token may be `*`, and the last token may be `>`. Without it, `*` and `>`
 * may not appear in the subject at all.
 */
export function validateSubject(subject: string, allowWildcards: boolean): void {
  const reject = (reason: string): never => {
    throw invalid('BUS_INVALID_SUBJECT', `invalid subject ${JSON.stringify(subject)}: ${reason}`, {
      subject,
    });
  };
  if (typeof subject !== 'string' || subject.length === 0) {
    reject('a subject must be a non-empty string');
  }
  if (subject.length > maxSubjectLength) {
    reject(`a subject may have at most ${maxSubjectLength} characters`);
  }
  if (forbiddenCharacters.test(subject)) {
    reject('a subject may not contain whitespace or control characters');
  }
  const tokens = subject.split('.');
  tokens.forEach((token, index) => {
    if (token.length === 0) {
      reject('tokens between dots must not be empty');
    }
    const isLast = index === tokens.length - 1;
    if (token === '*' || token === '>') {
      if (!allowWildcards) {
        reject('wildcards are allowed in subscriptions only; publish to a concrete subject');
      }
      if (token === '>' && !isLast) {
        reject("'>' may only be the last token");
      }
      return;
    }
    if (token.includes('*') || token.includes('>')) {
      reject("'*' and '>' must be whole tokens");
    }
  });
}

/** Validates a subject for publishing: no wildcards and not in the reserved dead-letter space. */
export function validatePublishSubject(subject: string): void {
  validateSubject(subject, false);
  if (subject.split('.')[0] === deadLetterToken) {
    throw invalid(
      'BUS_INVALID_SUBJECT',
      `invalid subject ${JSON.stringify(subject)}: the first token '${deadLetterToken}' is reserved for dead letters`,
      { subject },
    );
  }
}

/** Returns whether the concrete `subject` matches `filter` under NATS wildcard rules. */
export function subjectMatches(filter: string, subject: string): boolean {
  const filterTokens = filter.split('.');
  const subjectTokens = subject.split('.');
  for (let index = 0; index < filterTokens.length; index += 1) {
    const filterToken = filterTokens[index];
    if (filterToken === '>') {
      return subjectTokens.length > index;
    }
    const subjectToken = subjectTokens[index];
    if (subjectToken === undefined) {
      return false;
    }
    if (filterToken !== '*' && filterToken !== subjectToken) {
      return false;
    }
  }
  return filterTokens.length === subjectTokens.length;
}

/** Returns the subject on which dead letters of `subject` are published. */
export function deadLetterSubject(subject: string): string {
  return `${deadLetterToken}.${subject}`;
}

export function isDeadLetterSubject(subject: string): boolean {
  return subject.split('.')[0] === deadLetterToken;
}
