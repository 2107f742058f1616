// The library: one engine for the browser and Node. Node code adds `nodeContext` from
// 'char-rnn-webgpu/node'; the browser calls createContext(navigator.gpu).
export {
  PARAMS, PARAM_NAMES, CELLS, CELL_NAMES, isTutorialModel, modelLabel, paramTable, paramNames, layout, parameterCount,
  type CellName, type CellRecord, type CellStep, type Dims, type Layout, type ModelDims, type ParamName, type ParamRole, type ParamSpec, type Params,
  type StepShape, type Tensor,
} from './model.js';
export { Vocab } from './vocab.js';
export { decodeUtf8, encodeUtf8, scanUtf8, type IndexArray, type TextScan } from './text.js';
export { initParams, type InitScale } from './init.js';
export type {
  Engine, Batch, OptimizerConfig, OptimizerName, GenerateOptions, Activations, EngineState, StepOptions, Dropout,
} from './engine.js';
export { CpuEngine } from './cpu/engine.js';
export {
  GpuEngine, type GpuEngineOptions, type CellSweeps, type GpuSchedule, type Profile, type MemoryReport,
} from './gpu/engine.js';
export { CELL_SWEEPS, type Recurrence } from './gpu/schedule.js';
export { storageCache, type KeyValueStorage, type ScheduleCache, type ScheduleMeasurement } from './gpu/measure.js';
export { createContext, tryCreateContext, type GpuContext } from './gpu/context.js';
export {
  createEngine, checkModelSize, modelSize, type DeviceKind, type Allocation, type ModelSize, type SizeOptions,
} from './engines.js';
export { DEFAULT_CONFIG, TUTORIAL_CONFIG, optimizerOf, validateConfig, type TrainConfig, type Schedule } from './config.js';
export { planBatches, BatchCursor, type BatchPlan } from './data.js';
export { Trainer, type LogEntry, type TrainHooks, type TrainerState } from './train.js';
export { sampleText, type SampleOptions } from './sample.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint.js';
export type { FloatArray } from './safetensors.js';
export { lossPoints, thinHistory, SAVED_POINTS, type LossPoint, validationJump, VAL_JUMP } from './history.js';
export { toPytorch, fromPytorch, loadModelFile } from './pytorch.js';
export { runCheck, type CheckReport, type CheckRow, type CheckKind, type CheckOptions } from './check.js';
export { compare, GPU_TOLERANCE, type Comparison, type Tolerance } from './compare.js';
export * from './errors.js';
