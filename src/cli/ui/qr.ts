import QRCode from 'qrcode';

/** Black on bright white whatever the terminal's theme: phone cameras read dark-on-light codes most reliably. */
const START = '\x1b[30;107m';
const RESET = '\x1b[0m';
/** The spec asks for a 4-module quiet zone; 2 reads fine on a screen and saves lines. */
const QUIET = 2;

/**
 * Renders `text` as a QR code for a terminal: two modules per character cell (▀ ▄ █ and space), so a URL of the
 * usual length fits in about 20 lines. Low error correction keeps it small; a screen is not a damaged label.
 *
 * @returns the lines, each wrapped in colour codes, and the width in cells.
 */
export function renderQr(text: string): { lines: string[]; width: number } {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'L' });
  const size = modules.size;
  const dark = (x: number, y: number) => x >= 0 && y >= 0 && x < size && y < size && modules.get(y, x) === 1;
  const lines: string[] = [];
  for (let y = -QUIET; y < size + QUIET; y += 2) {
    let row = '';
    for (let x = -QUIET; x < size + QUIET; x++) {
      const top = dark(x, y);
      const bottom = dark(x, y + 1);
      row += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' ';
    }
    lines.push(`${START}${row}${RESET}`);
  }
  return { lines, width: size + 2 * QUIET };
}
