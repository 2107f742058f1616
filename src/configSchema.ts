import { z } from 'zod';
import { MAX_BATCH, MAX_HIDDEN, MAX_LAYERS, MAX_STEPS, SCHEDULES } from './bounds.js';
import type { TrainConfig } from './config.js';
import { OPTIMIZERS } from './engine.js';
import { INIT_SCALES } from './init.js';
import { CELLS, CELL_NAMES } from './model.js';

// One training run's settings, one row per field: the values it takes (a zod schema), what it
// means, its name and command-line option, and those values in words for messages. The CLI
// fills the object from argv, the page from its controls; checkpoints store it as their
// `config` metadata (src/schema.ts), so this table is also that entry's schema.

interface Field<S extends z.ZodType> {
  schema: S;
  /** what it is called in messages, and the option that sets it */
  title: string;
  option: string;
  /** the values it takes, in words: "Bad hidden size (--hidden): 0. It must be <expected>." */
  expected: string;
  description: string;
}

const int = (min: number, max?: number) => (max === undefined ? z.int().min(min) : z.int().min(min).max(max));
const finite = () => z.number();
const unit = () => z.number().min(0).max(1);
const unitOpen = () => z.number().min(0).lt(1);
const f = <S extends z.ZodType>(schema: S, title: string, option: string, expected: string, description: string): Field<S> => ({
  schema, title, option, expected, description,
});

export const FIELDS = {
  cell: f(z.enum(CELL_NAMES), 'cell', '--cell', `one of ${CELL_NAMES.join(', ')}`,
    `The recurrent cell (src/cells.ts), as PyTorch defines it: ${CELL_NAMES.map((c) => `'${c}' (${CELLS[c].title})`).join(', ')}; 'rnn' is the tutorial's.`),
  layers: f(int(1, MAX_LAYERS), 'layer count', '--layers', `an integer from 1 to ${MAX_LAYERS}`,
    "L, stacked layers, each reading the one below's h (1 = the tutorial's model)."),
  dropout: f(unitOpen(), 'dropout', '--dropout', 'a number in [0, 1): the probability of dropping a unit, 0 = none',
    "Inverted dropout probability on every layer's output during training (src/dropout.ts); 0 = none. Never in evaluation or sampling."),
  hidden: f(int(1, MAX_HIDDEN), 'hidden size', '--hidden', `an integer from 1 to ${MAX_HIDDEN}`, 'H, hidden units (per layer).'),
  steps: f(int(0, MAX_STEPS), 'step count', '--steps',
    `an integer from 0 to ${MAX_STEPS.toLocaleString('en-US')} (at 10,000 steps a second, more than a day)`, 'Optimizer steps to run.'),
  lr: f(finite().positive(), 'learning rate', '--lr', 'a finite number > 0, e.g. 0.01 for sgd, 0.1 for adagrad', 'Learning rate.'),
  optimizer: f(z.enum(OPTIMIZERS), 'optimizer', '--optimizer', `one of ${OPTIMIZERS.join(', ')}`,
    "'sgd' (the tutorial), 'adagrad' (min-char-rnn), 'rmsprop', 'adam' or 'adamw'."),
  clip: f(finite().min(0), 'clip', '--clip', 'a finite number >= 0 (0 turns clipping off)', 'Element-wise gradient clip to [-clip, clip]; 0 = off.'),
  seed: f(int(0, 0xffffffff), 'seed', '--seed', 'an integer from 0 to 4294967295', 'Seed of the weight initialisation (and of sampling unless given there).'),
  seqLen: f(int(0), 'sequence length', '--seq-len', 'an integer >= 1, or 0 for the whole text',
    'T, timesteps per step (truncated BPTT; the hidden state carries across chunks). 0 = the whole stream in one step, as the tutorial trains "hello".'),
  batch: f(int(1, MAX_BATCH), 'batch', '--batch', `an integer from 1 to ${MAX_BATCH}`, 'B, streams the text is cut into, trained side by side.'),
  logEvery: f(int(1), 'log interval', '--log-every', 'an integer >= 1', 'Read the loss back every this many steps (and at the last step).'),
  schedule: f(z.enum(SCHEDULES), 'schedule', '--schedule', `one of ${SCHEDULES.join(', ')}`,
    "Learning-rate schedule: 'constant', 'step' (decay), 'cosine' (with warm-up)."),
  warmup: f(int(0), 'warm-up', '--warmup', 'an integer >= 0', 'cosine: warm-up steps (linear from lr/warmup to lr).'),
  decayEvery: f(int(1), 'decay interval', '--decay-every', 'an integer >= 1', 'step: multiply the rate by decayRate every decayEvery steps.'),
  decayRate: f(unit(), 'decay rate', '--decay-rate', 'a number in [0, 1]', 'step: the factor applied every decayEvery steps.'),
  minLr: f(finite().min(0), 'minimum rate', '--min-lr', 'a number from 0 to the learning rate', 'cosine: the rate at the last step.'),
  clipNorm: f(finite().min(0), 'norm clip', '--clip-norm', 'a finite number >= 0 (0 turns it off)', 'Global-norm gradient clipping (0 = off), applied before `clip`.'),
  momentum: f(unitOpen(), 'momentum', '--momentum', 'a number in [0, 1)', 'sgd momentum (0 = plain SGD).'),
  alpha: f(unitOpen(), 'rmsprop decay', '--alpha', 'a number in [0, 1)', 'rmsprop decay.'),
  beta1: f(unitOpen(), 'beta1', '--beta1', 'a number in [0, 1)', 'adam / adamw first-moment decay.'),
  beta2: f(unitOpen(), 'beta2', '--beta2', 'a number in [0, 1)', 'adam / adamw second-moment decay.'),
  eps: f(finite().positive(), 'epsilon', '--eps', 'a finite number > 0', 'Denominator epsilon of adagrad, rmsprop, adam, adamw.'),
  weightDecay: f(finite().min(0), 'weight decay', '--weight-decay', 'a finite number >= 0', 'adamw decoupled weight decay (matrices only).'),
  valFraction: f(unitOpen(), 'validation fraction', '--val-fraction', 'a number in [0, 1)',
    'The last fraction of the text held out for validation, never trained on (0 = none).'),
  evalEvery: f(int(0), 'validation interval', '--eval-every', 'an integer >= 0', 'Validate every this many steps and at the end (0 = only at the end).'),
  initScale: f(z.union([z.enum(INIT_SCALES), finite().positive()]), 'initial scale', '--init-scale', `${INIT_SCALES.join(', ')} or a finite number > 0`,
    "Initial weights (src/init.ts): the matrices 'auto' randn*min(0.1, 1/sqrt(H)), 'uniform' (PyTorch's +-1/sqrt(H)), or a number s for randn*s, the biases 0; or 'pytorch', every tensor as PyTorch draws it. Checkpoints without it used 0.1."),
};

type Shape = { [K in keyof typeof FIELDS]: (typeof FIELDS)[K]['schema'] };
const shape = Object.fromEntries(
  Object.entries(FIELDS).map(([k, { schema, title, option, expected, description }]) => [k, schema.meta({ title, option, expected, description })]),
) as Shape;

/** The schema of TrainConfig: every field, no other. */
export const TRAIN_CONFIG = z.strictObject(shape);

// The schema and the interface of src/config.ts say the same, field by field (checked here by
// the compiler, both ways); the interface is what the shipped types show, without zod.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFields: Same<z.infer<typeof TRAIN_CONFIG>, TrainConfig> = true;
void sameFields;

