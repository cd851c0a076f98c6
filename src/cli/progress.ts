/** One-line progress reports for long work: count, rate, ETA. Writes to stderr so stdout stays clean. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class Progress {
  readonly #start = performance.now();
  #last = 0;
  constructor(
    readonly label: string,
    readonly total: number,
    readonly unit = 'items',
    readonly everyMs = 2000,
  ) {}
  /** Reports `done` of `total` (rate-limited to one line every `everyMs`, and always at the end). */
  update(done: number, extra = ''): void {
    const now = performance.now();
    if (done < this.total && now - this.#last < this.everyMs) return;
    this.#last = now;
    const secs = (now - this.#start) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Number.POSITIVE_INFINITY;
    process.stderr.write(
      `${this.label}: ${done}/${this.total} ${this.unit} (${rate.toFixed(1)} ${this.unit}/s, elapsed ${formatDuration(secs)}, ETA ${formatDuration(eta)})${extra ? ` ${extra}` : ''}\n`,
    );
  }
}
