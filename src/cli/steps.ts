import { appendFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { DivergedError } from '../errors.js';
import { type LogEntry, Trainer } from '../train.js';
import { err } from './common.js';
import { exitCodeOf, SIGNAL_WORDS, type SignalTrap, type StopSignal } from './signals.js';

// The step loop of `char-rnn train`: progress, the log file, periodic saves and samples, and
// the stop signals.

export interface StepOptions {
  save?: string;
  saveEvery?: number;
  sampleEvery?: number;
  logFile?: string;
}

/** Saves the run (`final`: at its end); resolves whether it was written. A periodic save may
 * skip with a warning (too little space), a final one throws. */
export type SaveFn = (final: boolean) => Promise<boolean>;

/** The step loop with progress, log file, periodic saves and samples, and signals: the first
 * SIGINT (Ctrl-C), SIGTERM or SIGHUP finishes the step, saves and stops; a second one exits at
 * once. Resolves the signal that stopped the run, if any. */
export async function runSteps(
  o: StepOptions, trap: SignalTrap, trainer: Trainer, total: number,
  save: SaveFn, sampleNow: (step: number) => Promise<void>, kept: () => string,
): Promise<StopSignal | undefined> {
  let stop: StopSignal | undefined;
  const bar = progress(total);
  trap.handle((s) => {
    if (stop) {
      bar.stop(); // gives the terminal its cursor back
      err(`\n${s} again: quitting now` + (o.save ? ` (${o.save} keeps its last checkpoint)` : '') + '.');
      process.exit(exitCodeOf(s));
    }
    stop = s;
    err(`\n${SIGNAL_WORDS[s]}: finishing the current step` + (o.save ? ` and saving ${o.save}` : '') + ' (Ctrl-C again to quit now).');
  });
  const log = logWriter(o.logFile);
  bar.start(trainer.step);
  const t0 = performance.now();
  const startStep = trainer.step;
  try {
    await trainer.run(Math.max(0, total - trainer.step), {
      shouldStop: () => stop !== undefined,
      onLog: (e) => {
        bar.update(e);
        log(e);
      },
      syncAt: (step) => Boolean((o.saveEvery && step % o.saveEvery === 0) || (o.sampleEvery && step % o.sampleEvery === 0)),
      afterStep: async (step) => {
        if (o.saveEvery && step % o.saveEvery === 0 && step < total) await save(false);
        if (o.sampleEvery && step % o.sampleEvery === 0) await sampleNow(step);
      },
    });
  } catch (e) {
    bar.stop();
    if (e instanceof DivergedError) throw new DivergedError(e.message + kept());
    throw e;
  }
  bar.stop();
  const saved = await save(true);
  const seconds = (performance.now() - t0) / 1000;
  const steps = trainer.step - startStep;
  const { B, T } = trainer.cursor.plan;
  const last = trainer.history.at(-1);
  err(
    (stop ? `stopped by ${stop} after step ${trainer.step}: ` : '') +
      `trained ${steps} steps in ${seconds.toFixed(2)} s (${Math.round((steps * B * T) / Math.max(seconds, 1e-9)).toLocaleString('en-US')} chars/s)` +
      (last ? `, loss ${last.loss.toFixed(4)}` : '') +
      (last?.valLoss !== undefined ? `, validation ${last.valLoss.toFixed(4)} nats/char = ${last.valBpc!.toFixed(3)} bits/char, perplexity ${last.valPerplexity!.toFixed(2)}` : ''),
  );
  if (saved) err(`saved ${o.save} (step ${trainer.step})` + (stop ? `; continue with: char-rnn train --resume ${o.save} --save ${o.save}` : ''));
  return stop;
}

/** Appends one JSON line per logged step to `file`; a failure later (a full disk) stops the
 * log, not the run (the file was checked writable before the first step). */
function logWriter(file: string | undefined): (e: LogEntry) => void {
  return (e) => {
    if (!file) return;
    try {
      appendFileSync(file, JSON.stringify({
        step: e.step, epoch: e.epoch, train_loss: e.loss, val_loss: e.valLoss ?? null, val_bpc: e.valBpc ?? null,
        val_perplexity: e.valPerplexity ?? null, lr: e.lr, grad_norm: e.gradNorm, chars_per_sec: e.charsPerSec, elapsed: e.elapsed,
        ...(e.warning ? { warning: e.warning } : {}),
      }) + '\n');
    } catch (x) {
      err(`\nchar-rnn: Could not append to --log-file ${file} (${(x as NodeJS.ErrnoException).code ?? (x as Error).message}): logging stopped, training goes on.`);
      file = undefined;
    }
  };
}

function progress(total: number) {
  const tty = process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    {
      format: 'step {value}/{total} {bar} epoch {epoch} | loss {loss} | val {val} | {speed} chars/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let lastLine = -1;
  let lastVal = '-';
  return {
    start: (step: number) => tty && bar.start(total, step, { loss: '-', speed: '-', epoch: 0, val: '-' }),
    update(e: LogEntry) {
      const val = e.valLoss === undefined ? undefined : `${e.valLoss.toFixed(4)} (${e.valBpc!.toFixed(3)} bpc)${e.warning ? ' JUMPED' : ''}`;
      if (val) lastVal = val;
      // a validation jump is said in full, on its own line, above the bar
      if (e.warning) {
        if (tty) bar.stop();
        err(`char-rnn: warning at step ${e.step}: ${e.warning}`);
        if (tty) bar.start(total, e.step, { loss: e.loss.toFixed(4), speed: '-', epoch: e.epoch, val: lastVal });
      }
      if (tty) bar.update(e.step, { loss: e.loss.toFixed(4), val: lastVal, epoch: e.epoch, speed: Math.round(e.charsPerSec).toLocaleString('en-US') });
      else {
        const line = Math.floor((10 * e.step) / Math.max(total, 1));
        if (line !== lastLine || e.step === total || val) {
          lastLine = line;
          err(`step ${e.step}/${total}  epoch ${e.epoch}  loss ${e.loss.toFixed(4)}${val ? `  val ${val}` : ''}  lr ${e.lr.toPrecision(3)}  ${Math.round(e.charsPerSec)} chars/s`);
        }
      }
    },
    stop: () => tty && bar.stop(),
  };
}
