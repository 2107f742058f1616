// The ranges of a run's sizes and its schedules, shared by the settings (src/config.ts), their
// schema (src/configSchema.ts) and the checkpoint schema (src/schema.ts).

export const SCHEDULES = ['constant', 'step', 'cosine'] as const;
export type Schedule = (typeof SCHEDULES)[number];

/** The most layers a model may stack. */
export const MAX_LAYERS = 8;

/** The most steps a run may ask for: more is a typo, not a plan. */
export const MAX_STEPS = 1_000_000_000;

/** The largest hidden size and batch a run may ask for. */
export const MAX_HIDDEN = 4096;
export const MAX_BATCH = 65535;
