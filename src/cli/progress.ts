// Training progress for `reclin run`/`resume`/`demo`: on a terminal, one bar redrawn in place (step, loss, lr,
// tokens/s, ETA); otherwise (CI, pipes, files) plain lines at each log step, so logs stay readable.
export interface ProgressOptions {
  total: number;
  /** Where to draw (default process.stderr). */
  out?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Force bar (true) or plain lines (false); default: a bar when `out` is a TTY. */
  tty?: boolean;
  label?: string;
}

function fmtNum(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(a < 1 ? 4 : 3);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

export class Progress {
  private readonly out: NonNullable<ProgressOptions['out']>;
  private readonly tty: boolean;
  private readonly total: number;
  private readonly label: string;
  private readonly t0 = Date.now();
  private firstStep: number | null = null;
  private step = 0;
  private loss: number | undefined;
  private lr: number | undefined;
  private tokensPerSecond: number | undefined;
  private drawn = false;

  constructor(opts: ProgressOptions) {
    this.out = opts.out ?? process.stderr;
    this.tty = opts.tty ?? !!(this.out as { isTTY?: boolean }).isTTY;
    this.total = opts.total;
    this.label = opts.label ? `${opts.label} ` : '';
  }

  /** Called after every optimizer step; `logged` holds the metrics when this step was a log step. */
  update(step: number, tokensPerSecond: number | undefined, logged?: Record<string, number>): void {
    if (this.firstStep === null) this.firstStep = step - 1;
    this.step = step;
    this.tokensPerSecond = tokensPerSecond;
    if (logged?.['train/loss'] !== undefined) this.loss = logged['train/loss'];
    if (logged?.['train/lr'] !== undefined) this.lr = logged['train/lr'];
    if (this.tty) this.draw();
    else if (logged && Object.keys(logged).some((k) => k.startsWith('train/'))) this.out.write(`${this.label}${this.statusText()}\n`);
  }

  /** Evaluation results (one line in both modes). */
  evaluation(step: number, metrics: Record<string, number>): void {
    const keys = Object.keys(metrics).filter((k) => k.startsWith('eval/')).sort();
    if (keys.length === 0) return;
    this.line(`${this.label}eval @ step ${step}: ${keys.map((k) => `${k.slice(5)} ${fmtNum(metrics[k])}`).join(', ')}`);
  }

  /** A message on its own line (the bar is redrawn after it). */
  line(text: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
    if (this.tty && this.drawn) this.draw();
  }

  done(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private statusText(): string {
    const elapsed = (Date.now() - this.t0) / 1000;
    const doneSteps = this.step - (this.firstStep ?? 0);
    const eta = doneSteps > 0 ? ((this.total - this.step) * elapsed) / doneSteps : NaN;
    const tps = this.tokensPerSecond === undefined ? '-' : this.tokensPerSecond.toFixed(0);
    return `step ${this.step}/${this.total}  loss ${fmtNum(this.loss)}  lr ${fmtNum(this.lr)}  tok/s ${tps}  elapsed ${fmtTime(elapsed)}  eta ${fmtTime(eta)}`;
  }

  private draw(): void {
    const width = 24;
    const frac = this.total > 0 ? Math.min(1, this.step / this.total) : 1;
    const fill = Math.round(frac * width);
    const bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
    let text = `${this.label}${bar} ${this.statusText()}`;
    const cols = (this.out as { columns?: number }).columns;
    if (cols && text.length > cols - 1) text = text.slice(0, cols - 1);
    this.out.write(`\r\x1b[K${text}`);
    this.drawn = true;
  }
}
