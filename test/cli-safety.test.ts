import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { DEFAULT_CONFIG } from '../src/config.js';
import { CELL_NAMES, CELLS, type ModelDims, type Params, paramTable } from '../src/model.js';
import { checkpointBytesBound, requireSpace, shortage, type StatFs } from '../src/node/space.js';
import { runCheckpoint } from '../src/state.js';

// The CLI loses nothing a user made: one run per checkpoint (a lock beside it), outputs checked
// against inputs and against files that are not ours, free space checked before the training
// and before each save, a resumed run's recorded text checked by its hash.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-safety-'));
const story = join(dir, 'story.txt');
copyFileSync('corpus/lighthouse.txt', story);
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A failure with a message and no stack trace. */
function expectFailure(r: ReturnType<typeof run>, code: number, message: RegExp) {
  expect(r.code, r.err).toBe(code);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/\n\s+at |unexpected error/);
}

/** A CLI run in the background, its stderr collected. */
function start(args: string[]) {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const until = async (done: () => boolean, what: string) => {
    const t0 = performance.now();
    while (!done()) {
      if (child.exitCode !== null) throw new Error(`exited before ${what}: ${err}`);
      if (performance.now() - t0 > 180_000) throw new Error(`no ${what} in 180 s: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { child, exit, err: () => err, until };
}

const small = ['--hidden', '8', '--device', 'cpu', '--sample-length', '0'];
const ckpt = (p: string) => loadCheckpoint(readFileSync(p), p);

describe('one run per checkpoint', () => {
  test('a second run onto the --save of a running one stops before reading its text, naming the first; the lock goes with the run', async () => {
    const save = join(dir, 'same.safetensors');
    const lock = join(dir, '.same.safetensors.lock');
    const first = start(['train', '--text', story, ...small, '--steps', '200000', '--save', save]);
    await first.until(() => /step \d+\/200000/.test(first.err()), 'a progress line');
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: expect.any(Number), host: hostname(), command: expect.stringContaining('train --text') });
    // (a text that does not exist: the lock is refused before the text is looked at)
    const second = run('train', '--text', join(dir, 'no-such-text.txt'), ...small, '--save', save);
    expectFailure(second, 2, new RegExp(`--save .*same\\.safetensors is being written by another char-rnn run: process \\d+ on ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT.*\\(char-rnn train --text .*story\\.txt`));
    first.child.kill('SIGINT');
    expect(await first.exit, first.err()).toBe(130);
    expect(existsSync(lock)).toBe(false);
    expect(ckpt(save).vocab.length).toBeGreaterThan(4); // the first run's, not hello's
    // free again
    expect(run('train', '--string', 'hello', ...small, '--steps', '2', '--save', save).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  test('a run that fails after taking the lock releases it', () => {
    const save = join(dir, 'fails.safetensors');
    expectFailure(run('train', '--text', join(dir, 'no-such-text.txt'), ...small, '--save', save), 1, /does not exist/);
    expect(existsSync(join(dir, '.fails.safetensors.lock'))).toBe(false);
  });

  test("a dead process's lock is taken over, said so; another host's is not", () => {
    const save = join(dir, 'stale.safetensors');
    const lock = join(dir, '.stale.safetensors.lock');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // a process that has exited
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), since: '2020-01-01T00:00:00.000Z', command: 'train --string old' }));
    const r = run('train', '--string', 'hello', ...small, '--steps', '2', '--save', save);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`\\.stale\\.safetensors\\.lock was left by process ${dead} on ${hostname()}, since 2020-01-01T00:00:00\\.000Z \\(char-rnn train --string old\\), which no longer runs: taking it over`));
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, JSON.stringify({ pid: dead, host: 'elsewhere', since: '2020-01-01T00:00:00.000Z', command: 'train --string old' }));
    expectFailure(run('train', '--string', 'hello', ...small, '--steps', '2', '--save', save), 2, /being written by another char-rnn run: process \d+ on elsewhere.*if that run is gone, remove .*\.stale\.safetensors\.lock/);
    rmSync(lock);
  });
});

describe('outputs checked against inputs before any work', () => {
  const run2 = join(dir, 'run.safetensors');
  const make = () => existsSync(run2) || expect(run('train', '--text', story, ...small, '--steps', '3', '--save', run2).code).toBe(0);
  const unchanged = (path: string, f: () => void) => {
    const before = readFileSync(path);
    f();
    expect(readFileSync(path).equals(before), `${path} unchanged`).toBe(true);
  };

  test('export --pytorch onto its own checkpoint, or onto the text, is refused; --force replaces a file not ours', () => {
    make();
    unchanged(run2, () => expectFailure(run('export', '--checkpoint', run2, '--pytorch', run2), 2, /--pytorch .*run\.safetensors is the file --checkpoint .*run\.safetensors reads: writing it would destroy what is being read/));
    const text = join(dir, 'export-story.txt');
    copyFileSync(story, text);
    unchanged(text, () => expectFailure(run('export', '--checkpoint', run2, '--pytorch', text), 2, /--pytorch .*export-story\.txt exists and is not a char-rnn checkpoint: exporting would replace it\. .*--force/));
    const other = join(dir, 'other-run.safetensors');
    copyFileSync(run2, other);
    unchanged(other, () => expectFailure(run('export', '--checkpoint', run2, '--pytorch', other), 2, /is a char-rnn checkpoint \(format char-rnn-webgpu\/1\), not a PyTorch export/));
    const pt = join(dir, 'pt.safetensors');
    expect(run('export', '--checkpoint', run2, '--pytorch', pt).code).toBe(0);
    expect(run('export', '--checkpoint', run2, '--pytorch', pt).code).toBe(0); // an export of ours is replaced
    expect(run('export', '--checkpoint', run2, '--pytorch', text, '--force').code).toBe(0);
  });

  test('train: --save or --log-file on the training text (by name, symlink or hard link) is refused, the text kept', () => {
    const link = join(dir, 'link.txt');
    const hard = join(dir, 'hard.txt');
    symlinkSync(story, link);
    linkSync(story, hard);
    for (const [text, option, out] of [[story, '--save', story], [story, '--log-file', story], [link, '--save', story], [hard, '--log-file', story], [story, '--save', hard]]) {
      unchanged(story, () => {
        const r = run('train', '--text', text, ...small, '--steps', '2', option, out, '--force');
        expectFailure(r, 2, new RegExp(`${option} .* is the file --text .* reads${text === out ? '' : ' \\(the same file under another name\\)'}: writing it would destroy`));
        expect(r.err).not.toMatch(/training characters/);
      });
    }
  });

  test('--save and --log-file may not be one file; --init X --save X is refused, --resume X --save X continues the run', () => {
    make();
    expectFailure(run('train', '--text', story, ...small, '--save', join(dir, 'both'), '--log-file', join(dir, '.', 'both')), 2, /--save .*both and --log-file .*both are the same file/);
    unchanged(run2, () => expectFailure(run('train', '--text', story, ...small, '--init', run2, '--save', run2), 2, /--save .*run\.safetensors is the file --init .*run\.safetensors reads/));
    expectFailure(run('train', '--resume', run2, ...small, '--log-file', run2, '--force'), 2, /--log-file .*run\.safetensors is the file --resume/);
    const r = run('train', '--resume', run2, '--save', run2, '--steps', '5', '--device', 'cpu', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(ckpt(run2).step).toBe(5);
  });

  test('--resume alone: the text it records is an input too', () => {
    make();
    unchanged(story, () => expectFailure(run('train', '--resume', run2, '--steps', '6', '--device', 'cpu', '--log-file', story, '--force'), 2,
      /--log-file .*story\.txt is the training text recorded in .*run\.safetensors, .*story\.txt: writing it would destroy what is being read/));
  });

  test('an existing file that is not ours is not replaced (--save) or appended to (--log-file) without --force', () => {
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes\n');
    unchanged(notes, () => expectFailure(run('train', '--text', story, ...small, '--steps', '2', '--save', notes), 2, /--save .*notes\.txt exists and is not a char-rnn checkpoint: saving would replace it\. Give --save another path, or add --force/));
    unchanged(notes, () => expectFailure(run('train', '--text', story, ...small, '--steps', '2', '--log-file', notes), 2, /--log-file .*notes\.txt exists and is not a log of char-rnn .*add --force to append/));
    const fifo = join(dir, 'fifo.safetensors');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectFailure(run('train', '--text', story, ...small, '--steps', '2', '--save', fifo, '--force'), 2, /--save .*fifo\.safetensors is a named pipe \(FIFO\), not a regular file: saving would replace it/);
    expect(statSync(fifo).isFIFO()).toBe(true);
    // a log of ours is appended to; --force appends to any file
    const log = join(dir, 'log.jsonl');
    expect(run('train', '--text', story, ...small, '--steps', '2', '--log-every', '1', '--log-file', log).code).toBe(0);
    expect(run('train', '--text', story, ...small, '--steps', '2', '--log-every', '1', '--log-file', log).code).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(4);
    expect(run('train', '--text', story, ...small, '--steps', '2', '--log-every', '1', '--log-file', notes, '--force').code).toBe(0);
    expect(readFileSync(notes, 'utf8')).toMatch(/^my notes\n\{"step":1,/);
    expect(run('train', '--text', story, ...small, '--steps', '2', '--save', notes, '--force').code).toBe(0);
    expect(ckpt(notes).step).toBe(2);
  });
});

describe('--resume alone checks the recorded text by its hash', () => {
  test('a recorded text edited in place is refused as another --text is; --allow-new-text trains on it', () => {
    const text = join(dir, 'edited.txt');
    copyFileSync(story, text);
    const save = join(dir, 'edited.safetensors');
    expect(run('train', '--text', text, ...small, '--steps', '3', '--save', save).code).toBe(0);
    appendFileSync(text, 'One more line.\n');
    const r = run('train', '--resume', save, '--steps', '6', '--device', 'cpu', '--sample-length', '0');
    expectFailure(r, 2, /edited\.txt \(4,874 characters, hash [0-9a-f]{16}\) is not the text .*edited\.safetensors was trained on \(.*edited\.txt, 4,859 characters, hash [0-9a-f]{16}\): the file has changed since\. .*--allow-new-text/);
    const ok = run('train', '--resume', save, '--steps', '6', '--device', 'cpu', '--sample-length', '0', '--allow-new-text', '--save', save);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toMatch(/the text is not the one of the checkpoint; the hidden state starts from zero/);
    expect(JSON.parse(ckpt(save).metadata!.text).chars).toBe(4874);
  });
});

describe('free space: checked before the training and before each save', () => {
  // a real small file system: a 1 MiB tmpfs (the tests run as root)
  const mnt = join(dir, 'small-disk');
  let mounted: { status: number | null; stderr: string } = { status: null, stderr: 'not mounted' };
  beforeAll(() => {
    mkdirSync(mnt);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
  });
  afterAll(() => {
    if (mounted.status === 0) spawnSync('umount', [mnt]);
  });

  test('a checkpoint that cannot fit is refused up front, with the sizes', () => {
    expect(mounted.status, `mount a tmpfs: ${mounted.stderr}`).toBe(0);
    const save = join(mnt, 'big.safetensors');
    const r = run('train', '--text', story, '--hidden', '256', '--device', 'cpu', '--steps', '5', '--sample-length', '0', '--save', save);
    expectFailure(r, 2, /--save .*big\.safetensors: .*small-disk has 1,0\d\d,\d\d\d bytes free, but this run's checkpoint takes up to \d{1,3}(,\d\d\d)+ bytes \(\d+\.\d MiB\).*Free some space there, or save on another disk/);
    expect(r.err).not.toMatch(/training characters/);
    expect(existsSync(save) || existsSync(join(mnt, '.big.safetensors.lock'))).toBe(false);
  });

  test('a periodic save that does not fit warns once, training goes on, the last checkpoint is kept; a final one fails, the last kept', async () => {
    expect(mounted.status, `mount a tmpfs: ${mounted.stderr}`).toBe(0);
    const save = join(mnt, 'run.safetensors');
    const log = join(dir, 'space-log.jsonl');
    const filler = join(mnt, 'filler');
    const r = start(['train', '--text', story, '--hidden', '16', '--device', 'cpu', '--steps', '200000', '--sample-length', '0', '--eval-every', '0',
      '--save', save, '--save-every', '1', '--log-every', '1', '--log-file', log]);
    await r.until(() => existsSync(save), 'a first save');
    // fill the disk: again while the run frees its old file on each save
    const fill = () => {
      try {
        for (;;) appendFileSync(filler, new Uint8Array(4096));
      } catch {
        // ENOSPC: full
      }
    };
    await r.until(() => (fill(), /not saved at step \d+/.test(r.err())), 'a warning');
    const k = Number(/not saved at step (\d+): .*small-disk has [\d,]+ bytes free, the checkpoint needs [\d,]+ bytes\. Nothing was written: .*run\.safetensors keeps its last good checkpoint \(step (\d+)\)\. Training goes on/.exec(r.err())![1]);
    const kept = ckpt(save).step;
    expect(kept).toBeLessThan(k);
    const logged = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step as number).at(-1)!;
    await r.until(() => logged() >= k + 20, 'training after the warning');
    r.child.kill('SIGINT');
    expect(await r.exit, r.err()).toBe(1);
    expect(r.err()).toMatch(new RegExp(`Could not save .*run\\.safetensors after step \\d+: .*small-disk has [\\d,]+ bytes free, the checkpoint needs [\\d,]+ bytes\\. Nothing was written: .*keeps its last good checkpoint \\(step ${kept}\\)`));
    expect(r.err().match(/not saved at step/g)).toHaveLength(1);
    expect(ckpt(save).step).toBe(kept);
    rmSync(filler);
  });
});

/** A file system with `free` bytes available in blocks of `block`. */
const fakeFs = (free: number, block = 4096): StatFs => () => ({ bavail: BigInt(Math.floor(free / block)), bsize: BigInt(block) });

describe('free space, on a file system faked through the statfs the checks are given', () => {
  test('up front: a checkpoint that does not fit is refused with both sizes; an unknown file system is not', () => {
    expect(() => requireSpace('/x/y.safetensors', '--save', 100_000, fakeFs(200 * 1024))).not.toThrow();
    expect(() => requireSpace('/x/y.safetensors', '--save', 300_000, fakeFs(200 * 1024)))
      .toThrow(/^--save \/x\/y\.safetensors: \/x has 204,800 bytes free, but this run's checkpoint takes up to 300,000 bytes .*Free some space there, or save on another disk\.$/);
    expect(() => requireSpace('/x/y.safetensors', '--save', 5 * 2 ** 30, fakeFs(2 ** 30)))
      .toThrow(/has 1,073,741,824 bytes \(1024\.0 MiB\) free, but this run's checkpoint takes up to 5,368,709,120 bytes \(5120\.0 MiB\)/);
    const broken: StatFs = () => {
      throw new Error('ENOSYS');
    };
    expect(() => requireSpace('/x/y.safetensors', '--save', 1e12, broken)).not.toThrow();
  });

  test('before a save: whole blocks and one more must be free', () => {
    expect(shortage('/x/y', 3 * 4096, fakeFs(4 * 4096))).toBeUndefined();
    expect(shortage('/x/y', 3 * 4096 + 1, fakeFs(4 * 4096))).toBe('/x has 16,384 bytes free, the checkpoint needs 12,289 bytes');
  });
});

describe("the size a run's checkpoint is expected to take", () => {
  // a worst case for the header: characters JSON escapes, a long path, large step counts, a full loss curve
  const vocab = ['a', '"', '\\', '\u0001', 'é', '\u{1F600}', '\n'];
  const cases = CELL_NAMES.flatMap((cell) => [1, 2].flatMap((layers) => (['cpu', 'gpu'] as const).map((device) => ({ cell, layers, device }))));

  test.each(cases)('$cell x $layers on $device: at least the bytes saved, at most 200 KB more', ({ cell, layers, device }) => {
    const model: ModelDims = { V: vocab.length, H: 5, cell, layers };
    const B = 3;
    const n = layers * B * model.H;
    const tensors = () => Object.fromEntries(paramTable(model).map((p) => [p.name, new Float64Array(p.size).fill(Math.PI)])) as Params;
    const state = {
      engine: { params: tensors(), m: tensors(), v: tensors(), hprev: new Float64Array(n), cprev: CELLS[cell].cellState ? new Float64Array(n) : undefined, t: 123_456_789 },
      step: 123_456_789, chunk: 1_000_000, epoch: 99_999,
    };
    const cfg = { ...DEFAULT_CONFIG, hidden: model.H, batch: B, cell, layers, lr: Math.PI / 1e7 };
    const path = `/a/"quoted"/${'long/'.repeat(50)}story.txt`;
    const record = { plan: { B, T: 25, L: 1_000_000 }, text: { source: path, path, chars: 123_456_789_012, hash: 'f'.repeat(16) } };
    const history = Array.from({ length: 2001 }, (_, i) => ({ step: 1e12 + i, loss: -Math.PI * 1e-7 * (i + 1), val: -Math.E / 3e-5 }));
    const bytes = saveCheckpoint({ ...runCheckpoint(vocab, cfg, state, device, record), history });
    const bound = checkpointBytesBound({ model, B, device, metadata: [vocab, cfg, record], historyPoints: history.length });
    expect(bytes.length).toBeLessThanOrEqual(bound);
    expect(bound - bytes.length).toBeLessThan(200_000);
  });
});
