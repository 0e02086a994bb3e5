import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { lazyRequestLogger } from './request-logger.js';

test('a request logger writes with its bindings, only at enabled levels, and makes no child until it writes', () => {
  const lines: Record<string, unknown>[] = [];
  const parent = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  let children = 0;
  const counting = Object.assign(Object.create(parent) as FastifyBaseLogger, {
    child: (b: Record<string, unknown>, o: object) => {
      children++;
      return parent.child(b, o);
    },
  });
  const log = lazyRequestLogger(counting, { reqId: 'req-1' }, {});
  log.debug({ hidden: true }, 'not written');
  assert.equal(children, 0, 'a level that is off creates nothing');
  assert.equal(log.level, 'info');
  assert.equal((log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled('debug'), false);
  log.info({ shown: 1 }, 'written');
  log.warn('again');
  assert.equal(children, 1, 'one child, made at the first line');
  assert.deepEqual(lines.map((l) => [l['reqId'], l['msg']]), [['req-1', 'written'], ['req-1', 'again']]);
  log.level = 'debug';
  log.debug('now on');
  assert.equal(lines.at(-1)?.['msg'], 'now on');
  assert.equal(log.child({ extra: 'x' }).level, 'debug');
});
