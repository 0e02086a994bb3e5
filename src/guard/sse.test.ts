import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, type SseMessage } from './sse.js';

function parse(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const parser = new SseParser((m) => out.push(m));
  for (const chunk of chunks) parser.push(chunk);
  return out;
}

test('events split anywhere, with any line ending, come out whole and in order', () => {
  const text = 'event: heartbeat\ndata: {"time":1}\n\nid: 7\r\nevent: revocation\r\ndata: a.b.c\r\n\r\n: comment\rid: 8\revent: revocation\rdata: d.e.f\r\r';
  const whole = parse([text]);
  assert.deepEqual(whole, [
    { event: 'heartbeat', data: '{"time":1}', lastEventId: '' },
    { event: 'revocation', data: 'a.b.c', lastEventId: '7' },
    { event: 'revocation', data: 'd.e.f', lastEventId: '8' },
  ]);
  for (let size = 1; size < 8; size++) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    assert.deepEqual(parse(chunks), whole, `chunks of ${size}`);
  }
});

test('data lines join with newlines; the id persists; empty events are not dispatched', () => {
  assert.deepEqual(parse(['id: 3\n\ndata: one\ndata:two\n\n']), [{ event: 'message', data: 'one\ntwo', lastEventId: '3' }]);
});

test('a line without end beyond 1 MiB is refused', () => {
  const parser = new SseParser(() => undefined);
  assert.throws(() => parser.push('data: '.padEnd((1 << 20) + 10, 'x')));
});
