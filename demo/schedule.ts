import type { Trainer } from '../src/index.js';

// Giving the browser its turn: training and sampling run in chunks and await nextTask()
// between them, so input and painting are never held up for long. And how fast an engine
// trains, timed the same way (the page's choice of engine).

const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();

/** Resolves in a new task (not a microtask), without setTimeout's 4 ms clamp. */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** Chooses how many steps the next chunk runs so that one chunk takes about `targetMs`. */
export class ChunkSizer {
  size = 1;
  constructor(
    private readonly targetMs = 25,
    private readonly max = 5000,
  ) {}

  /** Records that `steps` steps took `ms` milliseconds. */
  took(steps: number, ms: number): void {
    if (steps < this.size) return; // a short last chunk says little
    const ideal = (steps * this.targetMs) / Math.max(ms, 0.5);
    this.size = Math.max(1, Math.min(this.max, 2 * this.size, Math.round(ideal)));
  }
}

/** Characters per second `trainer` trains at: a first step (which compiles), then runs of 1, 2,
 * 4, ... steps (the GPU queues a run's steps) until about `ms` have passed; the last run's rate. */
export async function trainingSpeed(trainer: Trainer, ms: number): Promise<number> {
  const { B, T } = trainer.cursor.plan;
  await trainer.run(1);
  for (let n = 1, spent = 0; ; n *= 2) {
    const t0 = performance.now();
    await trainer.run(n);
    const t = performance.now() - t0;
    spent += t;
    if (spent >= ms || n >= 64) return (n * B * T * 1000) / Math.max(t, 1e-3);
    await nextTask();
  }
}
