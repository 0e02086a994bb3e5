const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

/**
 * A one-line spinner for a terminal. Off a terminal it draws nothing (a CI log full of braille frames helps
 * nobody) and only the final line is written.
 */
export class Spinner {
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private text: string | (() => string) = '';

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly animate: boolean,
  ) {}

  /** `text` may be a function, read at every frame (for a countdown). */
  start(text: string | (() => string)): void {
    this.text = text;
    if (!this.animate || this.timer) return;
    this.stream.write(HIDE_CURSOR);
    this.draw();
    this.timer = setInterval(() => this.draw(), FRAME_MS);
    // A spinner must never be what keeps the process alive.
    this.timer.unref();
  }

  update(text: string | (() => string)): void {
    this.text = text;
  }

  /** Writes a line above the spinner without tearing it. */
  log(line: string): void {
    this.stream.write(this.timer ? `${CLEAR_LINE}${line}\n` : `${line}\n`);
    if (this.timer) this.draw();
  }

  /** Clears the spinner and writes `finalLine` (with its newline) in its place. */
  stop(finalLine?: string): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.stream.write(`${CLEAR_LINE}${SHOW_CURSOR}`);
    }
    if (finalLine !== undefined) this.stream.write(`${finalLine}\n`);
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    const text = typeof this.text === 'function' ? this.text() : this.text;
    this.stream.write(`${CLEAR_LINE}${FRAMES[this.frame]} ${text}`);
  }
}
