// Errors a user can act on: each says what is wrong and what to do about it.
// The CLI prints `message` without a stack trace and exits 1 (2 for UsageError).

export class CharRnnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line usage or a bad hyperparameter value. */
export class UsageError extends CharRnnError {}
/** Training text that cannot be used (missing, empty, too short, not UTF-8). */
export class TextError extends CharRnnError {}
/** A character that the model's vocabulary does not hold. */
export class VocabularyError extends CharRnnError {}
/** A checkpoint file that cannot be read or does not fit. */
export class CheckpointError extends CharRnnError {}
/** No WebGPU adapter, a lost device, or a GPU validation error. */
export class GpuError extends CharRnnError {}
/** Training produced a NaN or infinite loss. */
export class DivergedError extends CharRnnError {}
