import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';

/** Rows done of a total, as a bar with rate and ETA on a terminal, else one line per step. */
export interface RowProgress {
  advance(rows: number, detail: string): void;
  stop(): void;
}

/**
 * A progress display on `stream` (stderr): a bar when it is a terminal; otherwise (a log
 * file, a test) one plain line per call, which can be read as it comes.
 */
export function rowProgress(stream: NodeJS.WriteStream, label: string, total: number): RowProgress {
  const started = performance.now();
  let done = 0;
  const rate = () => Math.round(done / Math.max((performance.now() - started) / 1000, 0.001));
  if (!stream.isTTY) {
    return {
      advance(rows, detail) {
        done += rows;
        stream.write(`${label}: ${detail}, ${done}/${total} rows, ${rate()} rows/s\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: 0 });
  return {
    advance(rows) {
      done += rows;
      bar.update(done, { rate: rate() });
    },
    stop() {
      bar.stop();
    },
  };
}
