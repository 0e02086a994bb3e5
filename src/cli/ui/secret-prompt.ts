/** Why a prompt ended without a line: Ctrl-C or Ctrl-D, or the input closed. */
export class PromptCancelled extends Error {
  override readonly name = 'PromptCancelled';
}

/**
 * Reads one line from a terminal without echoing it (raw mode, as `ssh-keygen` and `sudo` ask for passphrases):
 * the prompt goes to `out`, nothing typed is shown, Backspace works, Enter ends it. Ctrl-C, Ctrl-D on an empty
 * line, or the input closing reject with {@link PromptCancelled}. The terminal's mode is restored on every path.
 */
export function promptHidden(stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream, prompt: string): Promise<string> {
  const tty = stdin as NodeJS.ReadableStream & { setRawMode?: (on: boolean) => void };
  out.write(prompt);
  tty.setRawMode?.(true);
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let line = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      tty.setRawMode?.(false);
      stdin.pause();
      out.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onEnd = () => finish(new PromptCancelled('input closed'));
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\x03' || (char === '\x04' && line === '')) return finish(new PromptCancelled('cancelled'));
        if (char === '\x7f' || char === '\b') line = line.slice(0, -1);
        else if (char >= ' ') line += char;
      }
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
  });
}
