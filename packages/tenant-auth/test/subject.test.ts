import { describe, expect, it } from 'vitest';
import { isSubject } from '../src/index.ts';

describe('isSubject', () => {
  it.each(['default-admin', 'auth0|5f7c8ec7c33c6c004bbafe82', 'user@example.test', 'Zoë Ünïcode', '...', '.hidden', 'a'.repeat(128), '😀'.repeat(64)])(
    'accepts %j',
    (subject) => expect(isSubject(subject)).toBe(true),
  );

  it.each([
    ['empty', ''],
    ['NUL', 'admin\u0000'],
    ['a newline', 'admin\nroot'],
    ['DEL', 'admin\u007f'],
    ['a C1 control', 'admin\u0085'],
    ['a dot segment', '.'],
    ['a double-dot segment', '..'],
    ['129 characters', 'a'.repeat(129)],
    ['150 characters', 'a'.repeat(150)],
    ['a lone surrogate', 'admin\ud800'],
    ['a number', 42],
    ['null', null],
  ])('refuses %s', (_name, subject) => expect(isSubject(subject)).toBe(false));
});
