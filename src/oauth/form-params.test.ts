import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormParams } from './form-params.js';

test('empty values count as absent (RFC 6749 §3.1)', () => {
  const params = FormParams.parse('client_id=&scope=read');
  assert.equal(params.get('client_id'), undefined);
  assert.equal(params.get('scope'), 'read');
});

test('a repeated parameter is invalid_request, but getAll allows repeats', () => {
  const params = FormParams.parse('resource=a&resource=b&x=1&x=2');
  assert.throws(() => params.get('x'), { code: 'invalid_request' });
  assert.deepEqual(params.getAll('resource'), ['a', 'b']);
});

test('require names the missing parameter', () => {
  assert.throws(() => FormParams.parse('').require('device_code'), { code: 'invalid_request', message: /device_code/ });
});
