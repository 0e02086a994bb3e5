import jsqr from 'jsqr';

type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
// jsqr is CommonJS typed as an ES default export; under NodeNext the function may sit on either side.
const jsQR = ((jsqr as unknown as { default?: Decode }).default ?? jsqr) as unknown as Decode;

/** Reads the rendered characters back into pixels, as a phone camera would see the terminal. */
export function decodeTerminalQr(lines: string[]): string | undefined {
  const rows = lines.map((line) => [...line.replace(/\x1b\[[0-9;]*m/g, '')]);
  const width = Math.max(...rows.map((r) => r.length));
  const scale = 4;
  const height = rows.length * 2;
  const pixels = new Uint8ClampedArray(width * scale * height * scale * 4).fill(255);
  rows.forEach((row, y) =>
    row.forEach((cell, x) => {
      const dark = [cell === '█' || cell === '▀', cell === '█' || cell === '▄'];
      dark.forEach((on, half) => {
        if (!on) return;
        for (let dy = 0; dy < scale; dy++)
          for (let dx = 0; dx < scale; dx++) {
            const i = (((y * 2 + half) * scale + dy) * width * scale + x * scale + dx) * 4;
            pixels[i] = pixels[i + 1] = pixels[i + 2] = 0;
          }
      });
    }),
  );
  return jsQR(pixels, width * scale, height * scale)?.data;
}

