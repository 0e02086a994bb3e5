import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWithinResource, resolveUnderResource } from './resource-url.js';

test('only URLs at or below the resource get a token', () => {
  const api = 'https://api.example.com/v1';
  assert.ok(isWithinResource('https://api.example.com/v1', api));
  assert.ok(isWithinResource('https://api.example.com/v1/users?x=1', api));
  for (const other of [
    'https://api.example.com/v10/users',
    'https://api.example.com/',
    'http://api.example.com/v1/users',
    'https://api.example.com:8443/v1/users',
    'https://api.example.com.evil.test/v1',
    'https://user:pw@api.example.com/v1',
    'https://api.example.com/v1/../admin',
    'https://api.example.com/v1/%2e%2e/admin',
  ]) assert.equal(isWithinResource(other, api), false, other);
  assert.ok(isWithinResource('https://payroll.example/anything', 'https://payroll.example'));
});

test('a path under the proxy base URL maps under the resource', () => {
  assert.equal(resolveUnderResource('http://127.0.0.1:8080/api', '/whoami?a=1'), 'http://127.0.0.1:8080/api/whoami?a=1');
  assert.equal(resolveUnderResource('http://127.0.0.1:8080/api/', ''), 'http://127.0.0.1:8080/api');
  // Dot segments are resolved, so the result is checked with isWithinResource before anything is sent.
  assert.equal(isWithinResource(resolveUnderResource('http://h/api', '/../admin'), 'http://h/api'), false);
});
