import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { STOP_SIGNALS } from './signals.js';

// Dawn prints two lines on stderr from its own C++ code while it enumerates a Vulkan adapter
// (see src/node/gpu.ts): "Warning: maxDynamic{Uniform,Storage}BuffersPerPipelineLayout
// artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit." No option
// of dawn.node silences them and Node cannot point its own fd 2 elsewhere, so the CLI runs
// itself as a child with stderr piped and drops exactly those two lines; everything else,
// progress bars included, passes through as it comes.
//
// Where no adapter is found, Dawn first prints what the Vulkan loader told it, in lines whose
// shape depends on the driver setup, e.g. with no driver:
//
//   Warning: vkCreateInstance: Found no drivers!
//   Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER
//       at CheckVkSuccessImpl (/home/runner/work/node-webgpu/.../VulkanError.cpp:106)
//   (an empty line)
//
// and with a broken one "Warning: loader_get_json: ...", "Warning: /path/libvk.so: cannot open
// shared object file ...". The CLI's own message then says what to do. So the child marks its
// search for a GPU on stderr (SEARCH marks, lines of their own; writes to a pipe are synchronous
// on Linux, so they arrive in order with Dawn's), and the parent holds what comes between them:
// dropped if no GPU was found, passed on (less the two lines above) if one was.

/** Set in the child's environment: the parent's stderr as a terminal ({ tty, columns }). */
export const CHILD_ENV = 'CHAR_RNN_CLI_CHILD';

/** One of Dawn's two limit lines, whole. */
export const DAWN_LINE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const START = 'Warning: maxDynamic';

/** The child's marks around its search for a GPU: begun, then found or not. */
export const SEARCH = { begin: '\u0000char-rnn: GPU search begins', found: '\u0000char-rnn: GPU found', none: '\u0000char-rnn: no GPU' } as const;
const MARKS: string[] = Object.values(SEARCH);

/** Drops Dawn's lines (above) from a stream fed in chunks. A partial line is passed on at
 * once, unless it may still become one of them. */
export class DawnLineFilter {
  private held = '';
  /** the lines since a search began, while it goes on */
  private search: string[] | undefined;

  /** What to pass on for one whole line. */
  private line(line: string): string {
    if (line === SEARCH.begin) {
      this.search = [];
      return '';
    }
    if ((line === SEARCH.found || line === SEARCH.none) && this.search) {
      const lines = this.search;
      this.search = undefined;
      return line === SEARCH.none ? '' : lines.map((l) => this.line(l)).join('');
    }
    if (this.search) {
      this.search.push(line);
      return '';
    }
    return DAWN_LINE.test(line) ? '' : `${line}\n`;
  }

  private mayBecome(s: string): boolean {
    return this.search !== undefined || [START, ...MARKS].some((p) => p.startsWith(s) || s.startsWith(p));
  }

  push(chunk: string): string {
    let s = this.held + chunk;
    let out = '';
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n')) {
      out += this.line(s.slice(0, nl));
      s = s.slice(nl + 1);
    }
    const maybe = s !== '' && this.mayBecome(s);
    this.held = maybe ? s : '';
    return maybe ? out : out + s;
  }

  /** What is held at the end of the stream (a search that never ended: all it held). */
  end(): string {
    const s = this.held;
    const search = this.search;
    this.held = '';
    this.search = undefined;
    const rest = [...(search ?? []), ...(s && !MARKS.includes(s) ? [s] : [])];
    return rest.filter((l) => !DAWN_LINE.test(l)).join('\n');
  }
}

let parent: number | undefined;

/** In the child: its stderr behaves as the parent's terminal (the progress bar draws), and it
 * dies with the parent: a parent killed outright (SIGKILL, a crash) closes the IPC channel, and
 * the child then stops as abruptly, saving nothing, as the CLI itself would have. */
export function adoptParent(): void {
  const { tty, columns } = JSON.parse(process.env[CHILD_ENV] ?? '{}') as { tty?: boolean; columns?: number };
  delete process.env[CHILD_ENV];
  if (tty) Object.assign(process.stderr, { isTTY: true, columns: columns || 80 });
  // stdout is the terminal or pipe the parent got: once it is gone (a hangup, a closed pipe),
  // what is printed is lost, but the run goes on to save
  process.stdout.on('error', () => {});
  if (process.channel) {
    parent = process.ppid;
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel.unref();
  }
}

/** In the child under the parent's filter: marks the search for a GPU on stderr (see above). */
export function markSearch(mark: keyof typeof SEARCH): void {
  if (parent !== undefined) process.stderr.write(`${SEARCH[mark]}\n`);
}

/** Before a file is written: a child whose parent was killed outright stops at once instead
 * (the channel's close reaches its event loop only at the next turn). */
export function stopIfOrphaned(): void {
  if (parent !== undefined && process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}

/** Runs this CLI again as a child, its stderr filtered; resolves to the exit code to give. The
 * child has its own process group, so a terminal's Ctrl-C reaches it once, passed on by this
 * process (as are SIGTERM and SIGHUP). */
export function runFiltered(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
      stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, [CHILD_ENV]: JSON.stringify({ tty: process.stderr.isTTY === true, columns: process.stderr.columns ?? 0 }) },
      detached: true,
    });
    const filter = new DawnLineFilter();
    // a terminal that hangs up fails our writes: the child must still be told and waited for
    process.stderr.on('error', () => {});
    const stderr = child.stderr!; // stdio[2] is a pipe
    stderr.setEncoding('utf8');
    stderr.on('data', (c: string) => process.stderr.write(filter.push(c)));
    stderr.on('end', () => process.stderr.write(filter.end()));
    const pass = (s: NodeJS.Signals) => child.kill(s);
    for (const s of STOP_SIGNALS) process.on(s, pass);
    child.on('error', (e) => {
      process.stderr.write(`char-rnn: could not start the CLI: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
