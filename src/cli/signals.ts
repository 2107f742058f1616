import { constants } from 'node:os';

// The signals that stop a command: Ctrl-C (SIGINT), SIGTERM, and SIGHUP (a closed terminal, a
// dropped ssh connection). Each exits with 128 + its number: 130, 143, 129.

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export const exitCodeOf = (s: NodeJS.Signals): number => 128 + constants.signals[s];

/** How a signal is named when it stops a run. */
export const SIGNAL_WORDS: Record<StopSignal, string> = {
  SIGINT: 'Interrupted',
  SIGTERM: 'Terminated',
  SIGHUP: 'Hangup (SIGHUP: the terminal or connection closed)',
};

/** A command's hold on the stop signals from its first line: until `handle` gives a handler, a
 * signal ends the process at once through process.exit, so that its exit handlers run (they
 * remove the run's locks), where Node's default would end it without them. */
export class SignalTrap {
  private handler?: (s: StopSignal) => void;
  private readonly listener = (s: NodeJS.Signals) => (this.handler ? this.handler(s as StopSignal) : process.exit(exitCodeOf(s)));

  constructor() {
    for (const s of STOP_SIGNALS) process.on(s, this.listener);
  }

  /** From now on a signal calls `h` (undefined: back to exiting at once). */
  handle(h: ((s: StopSignal) => void) | undefined): void {
    this.handler = h;
  }

  dispose(): void {
    for (const s of STOP_SIGNALS) process.off(s, this.listener);
  }
}
