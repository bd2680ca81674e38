import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      // Colours, when the terminal has them, are not what these tests are about.
      lines.push(...stripVTControlCharacters(chunk.toString()).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes one JSON object a line by default, with the app name and PII redacted', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ app: 'relay', level: 'info', destination });
    logger.info({ topic: 'user-events', body: { email: 'a@example.com' } }, 'relay running');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ app: 'relay', level: 30, msg: 'relay running', topic: 'user-events', body: { email: '[redacted]' } });
  });

  it('pretty: one readable line an event, the app name first, fields inline, PII still redacted', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ app: 'consumer', level: 'info', format: 'pretty', destination }).child({ listener: 'public' });
    logger.info({ reqId: 'req-1', nested: { deep: [1, 2] }, body: { email: 'a@example.com' } }, 'request completed');
    logger.warn('slow');
    logger.debug('below the level');
    expect(lines).toHaveLength(2);
    const [info = '', warn = ''] = lines;
    expect(info).toMatch(/^consumer +\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: request completed /);
    expect(info).toContain('"reqId":"req-1"');
    expect(info).toContain('"listener":"public"');
    expect(info).toContain('"nested":{"deep":[1,2]}');
    expect(info).toContain('"email":"[redacted]"');
    expect(info).not.toContain('a@example.com');
    expect(info).not.toContain('"app"');
    expect(warn).toMatch(/^consumer +\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: slow \{"listener":"public"\}$/);
  });

  it('pretty: a stack trace follows its line, every line of it under the app name', () => {
    const { lines, destination } = capture();
    createLogger({ app: 'relay', level: 'info', format: 'pretty', destination }).error({ err: new Error('boom') }, 'relay batch failed');
    expect(lines.length).toBeGreaterThan(3);
    expect(lines[0]).toMatch(/^relay +\[.*\] ERROR: relay batch failed/);
    expect(lines.join('\n')).toContain('Error: boom');
    for (const line of lines) expect(line).toMatch(/^relay {4}/);
  });

  it('takes the format from LOG_FORMAT when none is passed', () => {
    const previous = process.env.LOG_FORMAT;
    try {
      process.env.LOG_FORMAT = 'pretty';
      const pretty = capture();
      createLogger({ app: 'source', level: 'info', destination: pretty.destination }).info('hello');
      expect(pretty.lines[0]).toMatch(/^source +.* INFO: hello$/);

      process.env.LOG_FORMAT = 'json';
      const json = capture();
      createLogger({ app: 'source', level: 'info', destination: json.destination }).info('hello');
      expect(JSON.parse(json.lines[0] ?? '')).toMatchObject({ app: 'source', msg: 'hello' });

      process.env.LOG_FORMAT = 'fancy';
      expect(() => createLogger({ app: 'source', level: 'info' })).toThrow(/LOG_FORMAT/);
    } finally {
      if (previous === undefined) delete process.env.LOG_FORMAT;
      else process.env.LOG_FORMAT = previous;
    }
  });
});
