import type { TrainConfig } from './config.js';

/** Learning rate of step `step` (0-based) of a run of `cfg.steps` steps:
 *  constant: lr
 *  step:     lr * decayRate^floor(step / decayEvery)
 *  cosine:   linear warm-up from lr/warmup to lr over `warmup` steps, then
 *            minLr + (lr - minLr) * (1 + cos(pi * progress)) / 2 down to minLr at the last step. */
export function lrAt(step: number, cfg: Pick<TrainConfig, 'lr' | 'schedule' | 'warmup' | 'decayEvery' | 'decayRate' | 'minLr' | 'steps'>): number {
  const { lr } = cfg;
  switch (cfg.schedule) {
    case 'constant':
      return lr;
    case 'step':
      return lr * Math.pow(cfg.decayRate, Math.floor(step / cfg.decayEvery));
    case 'cosine': {
      if (step < cfg.warmup) return (lr * (step + 1)) / cfg.warmup;
      const span = Math.max(1, cfg.steps - cfg.warmup - 1);
      const progress = Math.min(1, (step - cfg.warmup) / span);
      return cfg.minLr + ((lr - cfg.minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
  }
}
