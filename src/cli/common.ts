import { resolve } from 'node:path';
import type { Checkpoint } from '../checkpoint.js';
import { DEFAULT_CONFIG, OPTIMIZER_LR, type TrainConfig, validateConfig } from '../config.js';
import type { DeviceKind } from '../engines.js';
import { GpuError, TextError, UsageError } from '../errors.js';
import { type GpuContext, NO_ADAPTER_HELP } from '../gpu/context.js';
import { loadModelFile } from '../pytorch.js';
import type { TextRecord } from '../state.js';
import { scanUtf8, type TextScan } from '../text.js';
import { readCheckpointFile, readTextBytes, readTextFile } from '../node/files.js';
import { nodeContext } from '../node/gpu.js';
import { markSearch } from './dawnLines.js';

// What the commands share: output, the GPU context, texts, checkpoints, the configuration.

export const out = (s: string) => process.stdout.write(s + '\n');
export const err = (s: string) => process.stderr.write(s + '\n');

let liveContext: GpuContext | undefined;

/** The GPU context for `device` ('cpu': none). `command` names a command that cannot run on
 * the CPU engine, so that the no-adapter message does not suggest --device cpu to it. */
export async function gpuContextFor(device: DeviceKind, command?: string): Promise<GpuContext | undefined> {
  if (device !== 'gpu') return undefined;
  if (liveContext) return liveContext;
  markSearch('begin'); // what Dawn prints until the end mark is dropped if no GPU is found (src/cli/dawnLines.ts)
  try {
    liveContext = await nodeContext('char-rnn');
    markSearch('found');
    return liveContext;
  } catch (e) {
    markSearch('none');
    if (command && e instanceof GpuError && e.message.includes(NO_ADAPTER_HELP))
      throw new GpuError(e.message.replace(/\s*Or run on the CPU engine: --device cpu\.?/, '') +
        ` char-rnn ${command} compares the GPU engine with the CPU engine, so it needs a GPU; train, sample and eval run without one with --device cpu.`);
    throw e;
  }
}

export function destroyContext(): void {
  liveContext?.destroy();
  liveContext = undefined;
}

export function readText(o: { text?: string; string?: string }, what = 'training text'): { text: string; source: string } {
  if (o.text !== undefined && o.string !== undefined) throw new UsageError(`Give the ${what} with --text FILE or --string S, not both.`);
  if (o.string !== undefined) {
    if (o.string.length === 0) throw new TextError('The --string text is empty. Give at least 2 characters.');
    return { text: o.string, source: '--string' };
  }
  if (o.text === undefined) throw new UsageError(`No ${what}: give --text FILE or --string S.`);
  return { text: readTextFile(o.text), source: o.text };
}

/** A text as bytes and its first-pass scan (see src/text.ts), never as one string. */
export interface Corpus {
  bytes: Uint8Array;
  scan: TextScan;
  source: string;
  record: TextRecord;
}

export function readCorpus(o: { text?: string; string?: string }, what = 'training text'): Corpus {
  if (o.text !== undefined && o.string !== undefined) throw new UsageError(`Give the ${what} with --text FILE or --string S, not both.`);
  if (o.string !== undefined) {
    if (o.string.length === 0) throw new TextError('The --string text is empty. Give at least 2 characters.');
    const bytes = new TextEncoder().encode(o.string);
    const scan = scanUtf8(bytes, '--string');
    return { bytes, scan, source: '--string', record: { source: '--string', string: o.string, chars: scan.chars, hash: scan.hash } };
  }
  if (o.text === undefined) throw new UsageError(`No ${what}: give --text FILE or --string S.`);
  const bytes = readTextBytes(o.text);
  const scan = scanUtf8(bytes, `Text file ${o.text}`);
  return { bytes, scan, source: o.text, record: { source: o.text, path: resolve(o.text), chars: scan.chars, hash: scan.hash } };
}

/** A checkpoint, or a PyTorch state dict written by `export --pytorch` (weights only). */
export function loadCheckpointPath(path: string): Checkpoint {
  return loadModelFile(readCheckpointFile(path), path);
}

const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[];

/** The run configuration from parsed options over a base (defaults, or a resumed run's). */
export function configFrom(o: Record<string, unknown>, base: TrainConfig = DEFAULT_CONFIG): TrainConfig {
  const c = { ...base } as Record<string, unknown>;
  for (const k of CONFIG_KEYS) if (o[k] !== undefined) c[k] = o[k];
  const cfg = c as unknown as TrainConfig;
  if (base === DEFAULT_CONFIG) {
    // learning rate and clipping default per optimizer (README)
    if (o.lr === undefined) cfg.lr = OPTIMIZER_LR[cfg.optimizer].lr;
    if (o.clip === undefined) cfg.clip = OPTIMIZER_LR[cfg.optimizer].clip;
  }
  return validateConfig(cfg);
}
