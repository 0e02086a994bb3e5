import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceAuthorization } from '../device-flow/device-authorization.js';
import { pendingAuthorization } from '../../test/support/storage-fixtures.js';
import { PendingRequests } from './pending-requests.js';

// Named ids, so the assertions read; expiries at 1,100 to 1,300.
const request = (id: string, overrides: Partial<DeviceAuthorization> = {}): DeviceAuthorization =>
  pendingAuthorization({ ip: '192.0.2.1', userAgent: 'test' }, { id, createdAt: 1_000, expiresAt: 1_300, ...overrides });

test('holds pending requests only, until forgotten', () => {
  const held = new PendingRequests();
  held.remember(request('a'));
  held.remember(request('b', { status: 'approved' }));
  held.remember(request('c', { status: 'denied' }));
  assert.equal(held.get('a')?.id, 'a');
  assert.equal(held.get('b'), undefined, 'nothing but pending is ever answered from memory');
  assert.equal(held.get('c'), undefined);
  held.forget('a');
  assert.equal(held.get('a'), undefined);
  assert.equal(held.size, 0);
});

test('a held request cannot be changed by whoever it is handed to', () => {
  const held = new PendingRequests();
  held.remember(request('a'));
  const a = held.get('a');
  assert.ok(a);
  assert.throws(() => {
    (a as { status: string }).status = 'approved';
  }, TypeError);
  assert.throws(() => a.scopes.push('admin'), TypeError);
  assert.throws(() => {
    (a.requester as { ip: string }).ip = '203.0.113.9';
  }, TypeError);
  assert.equal(held.get('a')?.status, 'pending');
});

test('the sweep drops what expired before its time, as the table sweep deletes those rows', () => {
  const held = new PendingRequests();
  held.remember(request('early', { expiresAt: 1_100 }));
  held.remember(request('edge', { expiresAt: 1_200 }));
  held.remember(request('late', { expiresAt: 1_300 }));
  held.sweep(1_200);
  assert.equal(held.get('early'), undefined);
  // The table keeps a row with expires_at = before (it deletes expires_at < before); so does this.
  assert.equal(held.get('edge')?.id, 'edge');
  assert.equal(held.get('late')?.id, 'late');
});

test('past its cap it holds no more: those requests are read from their rows', () => {
  const held = new PendingRequests(2);
  held.remember(request('a'));
  held.remember(request('b'));
  held.remember(request('c'));
  assert.equal(held.size, 2);
  assert.equal(held.get('c'), undefined);
});
