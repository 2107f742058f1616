import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CHECKPOINT_FORMAT, loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import { encodeSafetensors } from '../src/safetensors.js';
import { CHILD_ENV, DawnLineFilter } from '../src/cli/dawnLines.js';
import { thinHistory } from '../src/history.js';
import { CpuEngine } from '../src/cpu/engine.js';
import { initParams } from '../src/init.js';
import { PARAM_NAMES, paramShape } from '../src/model.js';
import { sampleText } from '../src/sample.js';
import { Vocab } from '../src/vocab.js';

// The char-rnn command as users run it: node dist/cli.js (built by test/setup/build-cli.ts).

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-cli-'));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

function run(...args: string[]) {
  return runEnv({}, ...args);
}

function runEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A failure with a message and no stack trace. */
function expectFailure(r: ReturnType<typeof run>, code: number, message: RegExp) {
  expect(r.code, r.err).toBe(code);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/\n\s+at /);
}

const HELLO = ['--string', 'hello', '--hidden', '3', '--optimizer', 'sgd', '--lr', '0.01', '--steps', '1000', '--seq-len', '0'];

describe('char-rnn train / sample', () => {
  const ckpt = join(dir, 'hello.safetensors');

  test('train hello on the GPU, save, greedy sample gives hello', () => {
    const r = run('train', ...HELLO, '--save', ckpt, '--greedy', '--prime', 'h', '--sample-length', '4');
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe('hello');
    expect(r.err).toMatch(/step 1000\/1000/);
    expect(r.err).toMatch(/saved .*hello\.safetensors \(step 1000\)/);
  });

  test('a checkpoint carries the loss curve; a resumed run extends it, thinned to at most 2000 points', () => {
    const path = join(dir, 'curve.safetensors');
    const story = join(dir, 'curve.txt');
    writeFileSync(story, 'the cat sat on the mat. the rat sat on the hat. '.repeat(20));
    const common = ['--text', story, '--hidden', '8', '--batch', '2', '--seq-len', '8', '--device', 'cpu', '--sample-length', '0', '--log-every', '10', '--eval-every', '20', '--save', path];
    expect(run('train', ...common, '--steps', '30').code).toBe(0);
    const first = loadCheckpoint(readFileSync(path)).history!;
    expect(first.map((p) => p.step)).toEqual([10, 20, 30]);
    expect(first.map((p) => p.val !== undefined)).toEqual([false, true, true]); // 30: the end of the run
    expect(first.every((p) => p.loss > 0 && p.loss < Math.log(11))).toBe(true);
    expect(run('train', ...common, '--resume', path, '--steps', '50').code).toBe(0);
    const second = loadCheckpoint(readFileSync(path)).history!;
    expect(second.slice(0, 3)).toEqual(first);
    expect(second.map((p) => p.step)).toEqual([10, 20, 30, 40, 50]);
    // --init takes the weights only: the curve is the new run's own
    const fresh = join(dir, 'curve-init.safetensors');
    expect(run('train', ...common.slice(0, -1), fresh, '--init', path, '--steps', '10').code).toBe(0);
    expect(loadCheckpoint(readFileSync(fresh)).history).toHaveLength(1);
    // a long run keeps every validated point, the last one, and an even spread of the rest
    const points = Array.from({ length: 4999 }, (_, i) => (i % 1000 === 999 ? { step: i + 1, loss: 1, val: 2 } : { step: i + 1, loss: 1 }));
    const thin = thinHistory(points);
    expect(thin.length).toBeLessThanOrEqual(2000 + 5);
    expect(thin.at(-1)!.step).toBe(4999);
    expect(thin.filter((p) => p.val !== undefined).map((p) => p.step)).toEqual([1000, 2000, 3000, 4000]);
  });

  test('sample from the checkpoint: same text on GPU, CPU and the library', async () => {
    expect(run('sample', '--checkpoint', ckpt, '--prime', 'h', '--length', '4', '--greedy').out.trim()).toBe('hello');
    expect(run('sample', '--checkpoint', ckpt, '--prime', 'h', '--length', '4', '--greedy', '--device', 'cpu').out.trim()).toBe('hello');
    const args = ['sample', '--checkpoint', ckpt, '--prime', 'he', '--length', '40', '--temperature', '1.5', '--seed', '7'];
    const g = run(...args).out.trim();
    const c = run(...args, '--device', 'cpu').out.trim();
    expect(g).toHaveLength(42);
    expect(g).toBe(c);
    const ck = loadCheckpoint(readFileSync(ckpt), ckpt);
    expect(ck.step).toBe(1000);
    const vocab = new Vocab(ck.vocab);
    const e = new CpuEngine({ V: 4, H: 3, B: 1, T: 1 }, { name: 'sgd', lr: 1, clip: 0 }, ck.params);
    expect(await sampleText(e, vocab, { prime: 'he', length: 40, temperature: 1.5, seed: 7 })).toEqual([g]);
  });

  test('--profile: GPU time per kernel, the schedule chosen and why, memory; the same run without it', () => {
    const args = ['train', '--text', 'corpus/lighthouse.txt', '--hidden', '36', '--batch', '3', '--seq-len', '16', '--steps', '6', '--sample-length', '0'];
    const profiled = run(...args, '--profile');
    expect(profiled.code, profiled.err).toBe(0);
    expect(profiled.err).toMatch(/profile: .*6 steps timed/);
    expect(profiled.err).toMatch(/recurrence: persistent sweeps, 4 streams per workgroup; gradients: a product per tensor/);
    for (const k of ['forward_sweep', 'backward_sweep', 'output_logits', 'dW_hh0', 'dW_hy', 'update', 'total'])
      expect(profiled.err).toMatch(new RegExp(`\\n  ${k} +\\d+\\.\\d{3} ms/step`));
    expect(profiled.err).toMatch(/GFLOP\/s of model FLOPs/);
    expect(profiled.err).toMatch(/GPU memory: \d+\.\d\d MiB allocated; model state .*parameters .*gradients .*optimizer .*activations/);
    // timing every kernel changes nothing of the arithmetic
    const plain = run(...args);
    expect(plain.code, plain.err).toBe(0);
    const loss = (s: string) => Number(/, loss (\d+\.\d+)/.exec(s)![1]);
    expect(loss(plain.err)).toBe(loss(profiled.err));
    expectFailure(run(...args, '--profile', '--device', 'cpu'), 2, /--profile times the GPU kernels/);
  });

  test('--steps 0 --save writes the initial weights; --init starts from them', () => {
    const init = join(dir, 'init.safetensors');
    expect(run('train', '--string', 'hello', '--hidden', '5', '--seed', '9', '--steps', '0', '--save', init, '--sample-length', '0').code).toBe(0);
    const c = loadCheckpoint(readFileSync(init));
    expect(c.step).toBe(0);
    expect(c.hidden).toBe(5);
    expect(c.vocab).toEqual(['e', 'h', 'l', 'o']);
    const want = initParams({ V: 4, H: 5 }, 9);
    for (const k of PARAM_NAMES) expect(c.params[k]).toEqual(want[k]);
    const again = join(dir, 'again.safetensors');
    const r = run('train', '--string', 'hello', '--init', init, '--steps', '3', '--save', again, '--sample-length', '0', '--device', 'cpu');
    expect(r.code, r.err).toBe(0);
    expect(loadCheckpoint(readFileSync(again)).step).toBe(3);
  });

  test('a NaN/Inf loss stops with a message and keeps the last good checkpoint', () => {
    const target = join(dir, 'diverge.safetensors');
    writeFileSync(target, readFileSync(ckpt));
    const before = readFileSync(target);
    const r = run('train', '--string', 'abcabcabdabcabe', '--init', ckpt, '--lr', '3e38', '--optimizer', 'sgd', '--save', target, '--log-every', '1');
    // the vocabulary of the checkpoint (hello) does not cover this text: first that error
    expectFailure(r, 1, /Character 'a' \(U\+0061\) at character 1 of --string is not in the vocabulary/);
    const r2 = run('train', '--string', 'hellohello', '--init', ckpt, '--lr', '3e38', '--optimizer', 'sgd', '--save', target, '--log-every', '1');
    expectFailure(r2, 1, /diverged at step 1\d*: the loss is (NaN|Infinity).*keeps its last good checkpoint/s);
    expect(readFileSync(target).equals(before)).toBe(true);
  });
});

describe('char-rnn check', () => {
  test('GPU and CPU agree on every tensor; table and JSON', () => {
    const r = run('check', '--string', 'hello world, hello rnn', '--hidden', '6', '--steps', '5');
    expect(r.code, r.out + r.err).toBe(0);
    for (const name of ['hs', 'ps', 'dtanh', 'dW_xh', 'dW_hh', 'db_h', 'dW_hy', 'db_y', 'loss', 'W_hh (after 5 steps)']) expect(r.out).toContain(name);
    expect(r.out).toMatch(/^local step +dtanh /m);
    expect(r.out).toMatch(/^trajectory +hs \(step 0\) /m);
    expect(r.out).toMatch(/^local step +W_hh \(update 5\) /m);
    expect(r.out).toMatch(/f64 spread/);
    expect(r.out).toMatch(/all 27 comparisons pass/);
    const j = run('check', '--string', 'hello', '--steps', '3', '--optimizer', 'adagrad', '--json');
    expect(j.code).toBe(0);
    const rep = JSON.parse(j.out);
    expect(rep.ok).toBe(true);
    expect(rep.loss.cpu).toHaveLength(3);
    expect(rep.tensors.every((t: { used: number }) => t.used <= 1)).toBe(true);
  });
});

describe('bad input: a clear message, a non-zero exit, no stack trace', () => {
  const good = file('good.txt', 'hello there');
  test.each([
    ['missing file', ['train', '--text', join(dir, 'nope.txt')], 1, /nope\.txt does not exist/],
    ['empty file', ['train', '--text', file('empty.txt', '')], 1, /empty\.txt is empty/],
    ['1-character file', ['train', '--text', file('one.txt', 'x')], 1, /1 character; training needs at least 2/],
    ['not UTF-8', ['train', '--text', file('latin1.txt', Uint8Array.from([104, 105, 10, 99, 97, 0xe9, 33]))], 1, /not valid UTF-8: bad byte sequence at byte 5 \(line 2, column 3: e9 21\)/],
    ['no text given', ['train'], 2, /give --text FILE or --string S/],
    ['hidden 0', ['train', '--text', good, '--hidden', '0'], 2, /hidden size \(--hidden\): 0\. It must be an integer from 1/],
    ['negative lr', ['train', '--text', good, '--lr', '-1'], 2, /learning rate \(--lr\): -1/],
    ['NaN lr', ['train', '--text', good, '--lr', 'NaN'], 2, /--lr must be a finite number, got 'NaN'/],
    ['non-numeric steps', ['train', '--text', good, '--steps', 'many'], 2, /--steps must be an integer, got 'many'/],
    ['unknown optimizer', ['train', '--text', good, '--optimizer', 'adam2'], 2, /Allowed choices are sgd, adagrad/],
    ['unknown option', ['train', '--text', good, '--hiden', '3'], 2, /unknown option '--hiden'/],
    ['bad --init-scale', ['train', '--text', good, '--init-scale', 'big'], 2, /--init-scale must be auto, uniform, pytorch or a number > 0 \(randn \* x\), got 'big'/],
    ['zero --init-scale', ['check', '--string', 'hello', '--init-scale', '0'], 2, /--init-scale must be auto, uniform, pytorch or a number > 0/],
    ['unknown command', ['trian'], 2, /unknown command 'trian'/],
    ['missing checkpoint', ['sample', '--checkpoint', join(dir, 'none.safetensors')], 1, /none\.safetensors does not exist/],
    ['not safetensors', ['sample', '--checkpoint', good], 1, /good\.txt.*(truncated or not a safetensors file|not a safetensors)/s],
    ['UTF-16 text', ['train', '--text', file('utf16.txt', Uint8Array.from([0xff, 0xfe, 104, 0, 105, 0]))], 1, /utf16\.txt looks like UTF-16 \(little-endian.*iconv -f utf-16 -t utf-8/],
    ['eval without a text', ['eval', '--checkpoint', join(dir, 'none.safetensors')], 2, /No text to score: give --text FILE or --string S/],
    ['--save-every 0', ['train', '--text', good, '--save', join(dir, 'se.safetensors'), '--save-every', '0'], 2, /Bad --save-every 0: it must be an integer >= 1/],
    ['--save-every -5', ['train', '--text', good, '--save', join(dir, 'se.safetensors'), '--save-every', '-5'], 2, /Bad --save-every -5/],
    ['--save-every without --save', ['train', '--text', good, '--save-every', '5'], 2, /--save-every needs --save FILE/],
    ['--sample-every -1', ['train', '--text', good, '--sample-every', '-1'], 2, /Bad --sample-every -1: it must be an integer >= 1/],
    ['--sample-length -5', ['train', '--text', good, '--sample-length', '-5'], 2, /Bad --sample-length -5: it must be an integer >= 0/],
    ['--temperature 0', ['train', '--text', good, '--temperature', '0'], 2, /Bad --temperature 0: it must be a number > 0.*--greedy/],
    ['--temperature with --greedy', ['train', '--text', good, '--temperature', '0.5', '--greedy'], 2, /--temperature T or --greedy, not both/],
    ['--steps beyond the limit', ['train', '--text', good, '--steps', '1000000000000000'], 2, /Bad step count \(--steps\): 1000000000000000\. It must be an integer from 0 to 1,000,000,000/],
    ['empty --prime', ['train', '--text', good, '--prime', ''], 2, /--prime is empty/],
    ['--allow-new-text without --resume', ['train', '--text', good, '--allow-new-text'], 2, /--allow-new-text is for --resume/],
  ] as [string, string[], number, RegExp][])('%s', (_name, args, code, message) => {
    expectFailure(run(...args), code, message);
  });

  test('truncated checkpoint, wrong shapes, prime not in the vocabulary', () => {
    const p = initParams({ V: 4, H: 3 }, 1);
    const bytes = saveCheckpoint({ params: p, vocab: ['e', 'h', 'l', 'o'], hidden: 3, step: 0 });
    const cut = file('cut.safetensors', bytes.subarray(0, bytes.length - 10));
    expectFailure(run('sample', '--checkpoint', cut), 1, /cut\.safetensors.*10 bytes missing/s);
    const tensors = PARAM_NAMES.map((name) => ({ name, shape: name === 'W_hh' ? [4, 4] : [...paramShape(name, { V: 4, H: 3 })], data: name === 'W_hh' ? new Float32Array(16) : p[name] }));
    const meta = { format: CHECKPOINT_FORMAT, vocab: '["e","h","l","o"]', hidden: '3', vocab_size: '4', step: '0' };
    const wrong = file('wrong.safetensors', encodeSafetensors(tensors, meta));
    expectFailure(run('sample', '--checkpoint', wrong), 1, /W_hh has shape \[4,4\], expected \[3,3\]/);
    const ok = file('ok.safetensors', bytes);
    expectFailure(run('sample', '--checkpoint', ok, '--prime', 'hx'), 1, /Character 'x' \(U\+0078\) at character 2 of the prime is not in the vocabulary of this model \(4 characters: "e" "h" "l" "o"\)/);
  });

  test('options that would fail after training fail before it, nothing saved', () => {
    const save = join(dir, 'never.safetensors');
    for (const extra of [['--temperature', '0', '--sample-every', '10'], ['--prime', '€'], ['--sample-every', '10', '--prime', 'hx']]) {
      const r = run('train', '--text', good, '--hidden', '4', '--steps', '30', '--device', 'cpu', '--save', save, ...extra);
      expect(r.code, r.err).toBeGreaterThan(0);
      expect(r.err).not.toMatch(/training characters|trained \d|sample at step/);
      expect(r.err).toMatch(/--temperature|\(U\+20AC\) at character 1 of the prime \(--prime\)|'x' \(U\+0078\) at character 2 of the prime/);
      expect(existsSync(save)).toBe(false);
    }
  });

  test('output paths checked before any work: a clear message, exit 2', () => {
    const args = ['train', '--text', good, '--hidden', '4', '--steps', '30', '--device', 'cpu'];
    for (const [extra, message] of [
      [['--save', join(good, 'x.safetensors')], /--save .*good\.txt\/x\.safetensors: cannot create its directory, .*good\.txt is a file/],
      [['--save', dir], /--save .* is a directory\. Give a file path, e\.g\. .*model\.safetensors/],
      [['--save', '/proc/none/x.safetensors'], /--save \/proc\/none\/x\.safetensors: cannot create the directory \/proc\/none/],
      [['--log-file', dir], /--log-file .* is a directory/],
      [['--save', join(dir, 'unsaved.safetensors'), '--log-file', join(good, 'log.jsonl')], /--log-file .*good\.txt is a file/],
    ] as [string[], RegExp][]) {
      const r = run(...args, ...extra);
      expectFailure(r, 2, message);
      expect(r.err).not.toMatch(/training characters/);
    }
    expect(existsSync(join(dir, 'unsaved.safetensors'))).toBe(false);
    // missing directories are created
    const deep = join(dir, 'a', 'b', 'm.safetensors');
    expect(run(...args, '--save', deep, '--log-file', join(dir, 'c', 'log.jsonl'), '--sample-length', '0').code).toBe(0);
    expect(existsSync(deep) && existsSync(join(dir, 'c', 'log.jsonl'))).toBe(true);
    // a log that fails while training (here a file that opens but takes no writes) stops, the run goes on
    const r = run(...args, '--save', join(dir, 'logfail.safetensors'), '--log-file', '/proc/version', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/Could not append to --log-file \/proc\/version \(EIO\): logging stopped, training goes on/);
    expect(r.err).toMatch(/saved .*logfail\.safetensors \(step 30\)/);
  });

  test('temporary files of saves killed by kill -9 are removed by the next save', () => {
    const target = join(dir, 'stale.safetensors');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // a process that has exited
    const stale = file(`.stale.safetensors.${dead}.tmp`, 'half a checkpoint');
    const other = file('.other.safetensors.1.tmp', 'not ours'); // another target's: kept
    expect(run('train', '--string', 'hello', '--hidden', '3', '--steps', '2', '--device', 'cpu', '--save', target, '--sample-length', '0').code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(other)).toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('.stale.'))).toEqual([]);
  });

  test('Windows line ends are noted in the summary line', () => {
    const r = run('train', '--text', file('crlf.txt', 'hello\r\nworld\r\n'), '--hidden', '3', '--steps', '2', '--device', 'cpu', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/note: 2 Windows line ends \(\\r\\n\): "\\r" \(U\+000D\) is a character of the vocabulary/);
  });

  test('check: its own defaults in --help, and no --device cpu advice without an adapter', () => {
    const h = run('check', '--help');
    expect(h.out).toMatch(/--hidden <n> +hidden units H \(default 8\)/);
    expect(h.out).toMatch(/--steps <n> +steps compared \(default 20\)/);
    const r = runEnv({ VK_ICD_FILENAMES: join(dir, 'no-driver.json') }, 'check');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^char-rnn: No WebGPU adapter was found.*char-rnn check compares the GPU engine with the CPU engine, so it needs a GPU/s);
    expect(r.err).not.toMatch(/unexpected error/);
    expect(r.err).not.toMatch(/Or run on the CPU engine/);
  });

  test('--help on every command', () => {
    for (const c of [[], ['train'], ['sample'], ['check']]) {
      const r = run(...c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Usage: char-rnn/);
    }
  });
});

describe("Dawn's two limit warnings (src/cli/dawnLines.ts)", () => {
  const WARN = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
  const WARN2 = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

  test('the CLI on the GPU prints none of them, and everything else', () => {
    const r = run('train', '--string', 'hello', '--steps', '1', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/artificially reduced/);
    expect(r.err).toMatch(/^char-rnn: 5 training characters/);
    expect(r.err).toMatch(/trained 1 steps/);
  });

  test('the process that runs the CLI prints them (Dawn on this adapter), so the filter is what removes them', () => {
    const r = runEnv({ [CHILD_ENV]: '{}' }, 'train', '--string', 'hello', '--steps', '1', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(WARN);
    expect(r.err).toContain(WARN2);
  });

  test('the filter drops exactly those lines, in any chunking, and passes partial lines on at once', () => {
    const text = `first\n${WARN}\n${WARN2}\r\nstep 1/10\rstep 2/10\r${WARN.slice(0, -1)}!\nWarning: something else\nlast`;
    const want = 'first\nstep 1/10\rstep 2/10\r' + `${WARN.slice(0, -1)}!\nWarning: something else\nlast`;
    for (const size of [1, 3, 7, 64, text.length]) {
      const f = new DawnLineFilter();
      let got = '';
      for (let i = 0; i < text.length; i += size) got += f.push(text.slice(i, i + size));
      expect(got + f.end(), `chunks of ${size}`).toBe(want);
    }
    // a progress bar's partial line is not held back; the start of a warning is
    const f = new DawnLineFilter();
    expect(f.push('step 3/10 ####')).toBe('step 3/10 ####');
    expect(f.push('\nWarning: maxDyn')).toBe('\n');
    expect(f.push('amicUniform is not it\n')).toBe('Warning: maxDynamicUniform is not it\n');
  });
});

describe('a validation loss that jumps while the training loss falls', () => {
  test('is said once, on its own line and in the log file, and training goes on', () => {
    // the held-out end is runs of b's and a's, the training part alternates: what the model
    // learns makes the held-out end ever less likely
    const text = 'ab'.repeat(30) + 'bbbbbbbbaaaaaaaabbbbbbbbaaaaaaaa';
    const log = join(dir, 'jump.jsonl');
    const r = run('train', '--string', text, '--val-fraction', '0.35', '--hidden', '8', '--seq-len', '10', '--optimizer', 'sgd', '--lr', '0.1',
      '--steps', '60', '--eval-every', '5', '--log-file', log, '--device', 'cpu', '--sample-length', '0');
    expect(r.code, r.err).toBe(0);
    const lines = r.err.split('\n').filter((l) => l.startsWith('char-rnn: warning'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^char-rnn: warning at step \d+: the validation loss [\d.]+ is \d+% above its best \([\d.]+ at step 5\) while the training loss fell .* Try clipping the gradients \(--clip 5\)/);
    const entries = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.filter((e) => e.warning).map((e) => `char-rnn: warning at step ${e.step}: ${e.warning}`)).toEqual(lines);
    expect(entries.at(-1).step).toBe(60);
  });
});
