import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../src/index.ts';

const id = '6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('decodeCursor', () => {
  it('reads back what encodeCursor made', () => {
    const createdAt = new Date('2024-05-01T12:34:56.789Z');
    expect(decodeCursor(encodeCursor(createdAt, id))).toEqual({ createdAt: createdAt.toISOString(), id });
  });

  it.each(['1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'])('accepts the bounds of the range, %s', (createdAt) => {
    expect(decodeCursor(cursorOf([createdAt, id]))).toEqual({ createdAt, id });
  });

  it.each([
    ['a date beyond PostgreSQL (year +275760)', ['+275760-09-13T00:00:00.000Z', id]],
    ['a negative year', ['-000001-01-01T00:00:00.000Z', id]],
    ['year 10000', ['+010000-01-01T00:00:00.000Z', id]],
    ['a date before 1970', ['1969-12-31T23:59:59.999Z', id]],
    ['a time that is not a date', ['yesterday', id]],
    ['an id that is not a UUID', ['2024-05-01T12:34:56.789Z', "' OR 1=1 --"]],
    ['a number', 42],
    ['null', null],
    ['an object', { createdAt: '2024-05-01T12:34:56.789Z', id }],
  ])('refuses %s', (_name, value) => {
    expect(decodeCursor(cursorOf(value))).toBeNull();
  });

  it('refuses what is not base64url JSON', () => {
    expect(decodeCursor("' OR 1=1 --")).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });
});
