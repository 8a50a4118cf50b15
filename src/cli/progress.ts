/**
 * Progress for long work, on stderr so that stdout stays the result (and --json stays parseable).
 * On a terminal one line is redrawn with a spinner and the elapsed time; elsewhere each step is
 * one plain line, which reads well in CI logs.
 */
export interface Progress {
  /** A new step starts; the previous one is finished. */
  step(label: string): void;
  /** Extra detail for the current step (a percentage, a count). */
  detail(text: string): void;
  /** Finish the current step with its timing. */
  done(summary?: string): void;
  fail(message: string): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { step() {}, detail() {}, done() {}, fail() {} };
  const tty = stream.isTTY === true;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let label = '';
  let extra = '';
  let started = 0;
  let timer: NodeJS.Timeout | undefined;
  let frame = 0;
  const seconds = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  const draw = (): void => {
    stream.write(`\r\x1b[2K${frames[frame++ % frames.length]} ${label}${extra ? ` — ${extra}` : ''} ${seconds()}`);
  };
  const finish = (mark: string, text?: string): void => {
    if (!label) return;
    if (timer) clearInterval(timer);
    timer = undefined;
    const line = `${mark} ${label}${text ? ` — ${text}` : ''} (${seconds()})`;
    stream.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    label = '';
  };
  return {
    step(next) {
      finish('✓');
      label = next;
      extra = '';
      started = performance.now();
      if (tty) {
        draw();
        timer = setInterval(draw, 100);
        timer.unref();
      } else stream.write(`… ${label}\n`);
    },
    detail(text) {
      extra = text;
    },
    done(summary) {
      finish('✓', summary);
    },
    fail(message) {
      finish('✗', message);
    },
  };
}
