import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DawnLineFilter, SEARCH } from '../src/cli/dawnLines.js';

// Options the CLI checks before any work, each with a clear message and no stack trace.

const dir = mkdtempSync(join(tmpdir(), 'char-rnn-options-'));
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };

function run(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 180_000, env: { ...env, ...extraEnv } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A failure with a message and no stack trace. */
function expectFailure(r: ReturnType<typeof run>, code: number, message: RegExp) {
  expect(r.code, r.err).toBe(code);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/\n\s+at |unexpected error/);
}

const ckpt = join(dir, 'hello.safetensors');
const lstm = join(dir, 'lstm.safetensors');
beforeAll(() => {
  for (const [path, extra] of [[ckpt, []], [lstm, ['--cell', 'lstm', '--layers', '2']]] as [string, string[]][]) {
    const r = run(['train', '--string', 'hello world', '--hidden', '4', '--steps', '3', '--device', 'cpu', '--sample-length', '0', '--save', path, ...extra]);
    expect(r.code, r.err).toBe(0);
  }
}, 180_000);

describe('sample: the options train refuses, and limits', () => {
  test('--greedy with --temperature is refused, as train refuses it', () => {
    expectFailure(run(['sample', '--checkpoint', ckpt, '--greedy', '--temperature', '0.5', '--device', 'cpu']), 2, /Give --temperature T or --greedy, not both/);
    const ok = run(['sample', '--checkpoint', ckpt, '--greedy', '--length', '5', '--device', 'cpu']);
    expect(ok.code, ok.err).toBe(0);
  }, 180_000);

  test.each([
    ['--length 1e9', ['--length', '1e9'], /Bad --length 1,000,000,000: at most 10,000,000 characters per sample/],
    ['--length 1e10', ['--length', '1e10'], /Bad --length 10,000,000,000: at most 10,000,000/],
    ['--num 1e8', ['--num', '1e8'], /Bad --num 100,000,000: at most 10,000 samples at once/],
    ['--num 100 --length 1e7', ['--num', '100', '--length', '1e7'], /--num 100 x --length 10,000,000 is 1,000,000,000 characters, more than the 100,000,000/],
  ] as [string, string[], RegExp][])('%s is refused up front', (_name, args, message) => {
    expectFailure(run(['sample', '--checkpoint', ckpt, '--device', 'cpu', ...args]), 2, message);
  }, 180_000);

  test('the limits are in --help', () => {
    const help = run(['sample', '--help']).out.replace(/\s+/g, ' ');
    expect(help).toMatch(/--length <n> characters to generate, at most 10,000,000 \(held in memory until printed\)/);
    expect(help).toMatch(/--num <n> .*at most 10,000, and 100,000,000 characters in all/);
  }, 180_000);
});

describe('--seed is an integer from 0 to 4294967295 in every command', () => {
  test.each([
    ['train', ['train', '--string', 'hello', '--device', 'cpu', '--steps', '1']],
    ['sample', ['sample', '--checkpoint', ckpt, '--device', 'cpu']],
    ['check', ['check', '--string', 'hello']],
  ] as [string, string[]][])('%s', (_name, args) => {
    for (const seed of ['-1', '4294967296', '1.5'])
      expectFailure(run([...args, '--seed', seed]), 2, new RegExp(`--seed must be an integer from 0 to 4294967295, got '${seed.replace('.', '\\.')}'`));
  }, 180_000);

  test('-1 is not 4294967295 in disguise: the largest seed works', () => {
    const r = run(['sample', '--checkpoint', ckpt, '--device', 'cpu', '--seed', '4294967295', '--length', '5']);
    expect(r.code, r.err).toBe(0);
  }, 180_000);
});

describe('texts and checkpoints are regular files of a size checked before reading', () => {
  test('a device or a pipe is refused at once', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectFailure(run(['train', '--text', '/dev/zero', '--device', 'cpu']), 1, /Text file \/dev\/zero is a character device, not a regular file/);
    expectFailure(run(['train', '--text', fifo, '--device', 'cpu']), 1, /Text file .*fifo is a named pipe \(FIFO\), not a regular file/);
    expectFailure(run(['sample', '--checkpoint', '/dev/zero', '--device', 'cpu']), 1, /Checkpoint \/dev\/zero is a character device, not a regular file/);
    expectFailure(run(['eval', '--checkpoint', ckpt, '--text', '/dev/zero', '--device', 'cpu']), 1, /Text file \/dev\/zero is a character device/);
  }, 180_000);

  test('too large: the size is named, nothing is read (sparse files)', () => {
    const big = join(dir, 'big.txt');
    writeFileSync(big, '');
    truncateSync(big, 2 ** 30 + 1);
    expectFailure(run(['train', '--text', big, '--device', 'cpu']), 1, /Text file .*big\.txt is 1,073,741,825 bytes \(1024\.0 MiB\), more than the 1,073,741,824 bytes \(1024\.0 MiB\) char-rnn reads/);
    const huge = join(dir, 'huge.safetensors');
    writeFileSync(huge, '');
    truncateSync(huge, 2 ** 31);
    expectFailure(run(['sample', '--checkpoint', huge, '--device', 'cpu']), 1, /Checkpoint .*huge\.safetensors is 2,147,483,648 bytes .*more than the 2,147,483,647 bytes/);
  }, 180_000);
});

describe('check --init: the model comes from the checkpoint', () => {
  test.each([
    ['--cell gru', ['--cell', 'gru'], /--cell gru --layers 2 does not match the model of .*lstm\.safetensors \(lstm, 2 layers\)\. Leave --cell and --layers out/],
    ['--layers 3', ['--layers', '3'], /--cell lstm --layers 3 does not match the model of .*lstm\.safetensors \(lstm, 2 layers\)/],
    ['--hidden 8', ['--hidden', '8'], /--hidden 8 does not match the hidden size 4 of .*lstm\.safetensors\. Leave --hidden out/],
  ] as [string, string[], RegExp][])('%s is refused as train refuses it', (_name, args, message) => {
    expectFailure(run(['check', '--string', 'hello world', '--init', lstm, ...args]), 2, message);
    expectFailure(run(['train', '--string', 'hello world', '--init', lstm, '--device', 'cpu', ...args]), 2, message);
  }, 180_000);
});

describe('no Vulkan driver: only the clear message', () => {
  const WARN = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
  const NO_DRIVER = ['Warning: vkCreateInstance: Found no drivers!', 'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER',
    '    at CheckVkSuccessImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)', ''];
  const brokenDriver = join(dir, 'broken-icd.json');
  writeFileSync(brokenDriver, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir, 'libnone.so'), api_version: '1.3.0' } }));

  test.each([
    ['no driver', '/nonexistent', /Warning: vkCreateInstance: Found no drivers!\nWarning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n +at /],
    ['a driver whose library is missing', brokenDriver, /Warning: .*libnone\.so: cannot open shared object file[^]*Warning: loader_icd_scan: /],
  ] as [string, string, RegExp][])('%s: Dawn prints its lines in the process that runs the command; the CLI shows none of them', (_name, icd, dawn) => {
    for (const command of [['train', '--string', 'hello', '--steps', '1'], ['check']]) {
      const r = run(command, { VK_ICD_FILENAMES: icd });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^char-rnn: No WebGPU adapter was found\. [^\n]*\n$/);
      const child = run(command, { VK_ICD_FILENAMES: icd, CHAR_RNN_CLI_CHILD: '{}' });
      expect(child.err).toMatch(dawn); // what the filter removes
    }
  }, 180_000);

  test('the filter drops what Dawn prints during a search that finds no GPU, in any chunking; a search that finds one passes its lines on', () => {
    const text = `before\n${SEARCH.begin}\n${NO_DRIVER.join('\n')}\n${SEARCH.none}\nchar-rnn: No WebGPU adapter\n` +
      `${SEARCH.begin}\nWarning: what Dawn said\n${WARN}\n${SEARCH.found}\nWarning: vkCreateInstance: after the search\n\nlast`;
    const want = 'before\nchar-rnn: No WebGPU adapter\nWarning: what Dawn said\nWarning: vkCreateInstance: after the search\n\nlast';
    for (const size of [1, 2, 5, 13, 64, text.length]) {
      const f = new DawnLineFilter();
      let got = '';
      for (let i = 0; i < text.length; i += size) got += f.push(text.slice(i, i + size));
      expect(got + f.end(), `chunks of ${size}`).toBe(want);
    }
    // a child that dies during its search: what it held comes out at the end
    const f = new DawnLineFilter();
    expect(f.push(`${SEARCH.begin}\nWarning: a\npartial`)).toBe('');
    expect(f.end()).toBe('Warning: a\npartial');
  });
});

describe('--version, eval --json', () => {
  test('--version prints the version of package.json', () => {
    const r = run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  }, 180_000);

  test('eval --json: loss, bits per char, perplexity, characters scored and skipped, in full precision', () => {
    const text = ['--string', 'hello world, hellx', '--device', 'cpu'];
    const j = run(['eval', '--checkpoint', ckpt, ...text, '--json']);
    expect(j.code, j.err).toBe(0);
    const r = JSON.parse(j.out);
    expect(r).toMatchObject({ text: '--string', chars_scored: 14, chars_skipped: 2, skipped_distinct: 2 });
    expect(r.bits_per_char).toBeCloseTo(r.loss / Math.LN2, 12);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.loss), 10);
    const plain = run(['eval', '--checkpoint', ckpt, ...text]).out;
    expect(plain).toContain(`loss ${r.loss.toFixed(4)} nats/char`);
    expect(r.loss).not.toBe(Number(r.loss.toFixed(4))); // not the 4 decimals of the text output
  }, 180_000);
});

describe('a model too large is refused before anything is allocated', () => {
  // Was: 64 s and 4 GB, then a message naming only --hidden; now the sizes are counted first.
  // (The CPU engine's budget, the machine's memory, is tested in test/memory.test.ts.)
  test('char-rnn train --cell lstm --layers 8 --hidden 4096 on the GPU engine', () => {
    const t0 = performance.now();
    const r = run(['train', '--string', 'hello world', '--cell', 'lstm', '--layers', '8', '--hidden', '4096', '--steps', '1']);
    expectFailure(r, 2, /does not fit this GPU: its buffer params \(parameters\) needs 3\.75 GiB.*Lower --hidden \(4096\) or --layers \(8\)/);
    expect(performance.now() - t0, 'refused before the weights are drawn').toBeLessThan(60_000);
  }, 180_000);
});
