import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { formatLogLine, logDestination } from './log-text.js';

function sink(tty: boolean) {
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        stream.text += String(chunk);
        done();
      },
    }),
    { text: '', isTTY: tty },
  );
  return stream;
}

test('on a terminal, log lines read as text; off one, they stay JSON; --log-format overrides either way', async () => {
  const terminal = sink(true);
  const logger = pino({ base: { service: 'tether' }, redact: { paths: ['token'], censor: '[redacted]' } }, logDestination(undefined, terminal));
  logger.info({ issuer: 'http://127.0.0.1:8080', token: 'secret-value', req: { method: 'GET', url: '/device' } }, 'tether listening');
  logger.flush();
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(terminal.text, /^\d\d:\d\d:\d\d INFO {2}tether listening issuer=http:\/\/127\.0\.0\.1:8080 token=\[redacted\] req=GET \/device\n$/);
  assert.doesNotMatch(terminal.text, /secret-value/);

  const pipe = sink(false);
  assert.equal(logDestination(undefined, pipe), pipe, 'not a terminal: JSON as is');
  assert.equal(logDestination('json', terminal), terminal, '--log-format json on a terminal');
  assert.notEqual(logDestination('text', pipe), pipe, '--log-format text off a terminal');
});

test('errors show their message, not a stack; a line that is not JSON passes through', () => {
  const line = JSON.stringify({ level: 50, time: 0, msg: 'cleanup failed', err: { message: 'disk full', stack: 'Error: disk full\n    at x (y:1:2)' } });
  assert.equal(formatLogLine(line), '00:00:00 ERROR cleanup failed err="disk full"');
  assert.equal(formatLogLine('plain text'), 'plain text');
});
