import { spawn } from 'node:child_process';
import { constants } from 'node:os';

// Dawn prints two lines on stderr from its own C++ code while it enumerates a Vulkan adapter
// (see src/node/gpu.ts): "Warning: maxDynamic{Uniform,Storage}BuffersPerPipelineLayout
// artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit." No option
// of dawn.node silences them and Node cannot point its own fd 2 elsewhere, so the CLI runs
// itself as a child with stderr piped and drops exactly those two lines; everything else,
// progress bars included, passes through as it comes.

/** Set in the child's environment: the parent's stderr as a terminal ({ tty, columns }). */
export const CHILD_ENV = 'CHAR_RNN_CLI_CHILD';

/** One of Dawn's two lines, whole. */
export const DAWN_LINE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const START = 'Warning: maxDynamic';

/** Drops DAWN_LINE lines from a stream fed in chunks. A partial line is passed on at once,
 * unless it may still become one of them. */
export class DawnLineFilter {
  private held = '';

  push(chunk: string): string {
    let s = this.held + chunk;
    let out = '';
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n')) {
      const line = s.slice(0, nl);
      if (!DAWN_LINE.test(line)) out += `${line}\n`;
      s = s.slice(nl + 1);
    }
    const maybe = START.startsWith(s) || s.startsWith(START);
    this.held = maybe ? s : '';
    return maybe ? out : out + s;
  }

  /** What is held at the end of the stream. */
  end(): string {
    const s = this.held;
    this.held = '';
    return DAWN_LINE.test(s) ? '' : s;
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
  if (process.channel) {
    parent = process.ppid;
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel.unref();
  }
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
    const stderr = child.stderr!; // stdio[2] is a pipe
    stderr.setEncoding('utf8');
    stderr.on('data', (c: string) => process.stderr.write(filter.push(c)));
    stderr.on('end', () => process.stderr.write(filter.end()));
    const pass = (s: NodeJS.Signals) => child.kill(s);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, pass);
    child.on('error', (e) => {
      process.stderr.write(`char-rnn: could not start the CLI: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
