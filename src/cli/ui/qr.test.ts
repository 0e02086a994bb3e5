import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTerminalQr } from '../../../test/cli/terminal-qr.js';
import { renderQr } from './qr.js';

test('the terminal QR code decodes to the verification URL', () => {
  const url = 'https://tether.example.com/device?user_code=BCDF-GHJK';
  const { lines, width } = renderQr(url);
  assert.equal(decodeTerminalQr(lines), url);
  assert.ok(width <= 40, `small enough for an 80-column terminal (${width})`);
  assert.ok(lines.every((line) => line.startsWith('\x1b[30;107m') && line.endsWith('\x1b[0m')), 'dark on light whatever the theme');
});
