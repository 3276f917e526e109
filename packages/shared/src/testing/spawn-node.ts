import { spawn, type ChildProcess } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';

/** One stdout line: the parsed pino object, or `{ msg, raw: true }` for anything that is not JSON. */
export type LogLine = Record<string, unknown> & { msg?: string };

export type ExitResult = { code: number | null; signal: NodeJS.Signals | null };

export type LinePredicate = (line: LogLine) => boolean;

export type SpawnNodeOptions = {
  /** Labels errors and verbose output; several workers usually run the same script. */
  name: string;
  /** Path to a .ts or .js file, resolved against `cwd`. */
  script: string;
  args?: string[];
  /** Merged over `process.env`; an `undefined` value removes an inherited variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Resolve once a stdout line satisfies this; without it, resolve as soon as the process spawned. */
  ready?: LinePredicate;
  readyTimeoutMs?: number;
};

export type NodeProcess = {
  name: string;
  pid: number;
  child: ChildProcess;
  lines: LogLine[];
  stderr(): string;
  /**
   * What it printed, for people and for searching: stdout lines (pino objects as JSON), then
   * stderr; with `tail`, only the last lines of stdout and the last characters of stderr.
   */
  output(tail?: { lines: number; stderrChars: number }): string;
  /** Also matches lines already received, so there is no race between an action and its log line. */
  waitForLine(predicate: LinePredicate, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<ExitResult>;
  /** Not yet exited (nor killed by a signal). */
  alive(): boolean;
  /** Sends `signal`, then SIGKILL if the process is still alive after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitResult>;
  kill(): Promise<ExitResult>;
  /** SIGSTOP: alive, holding its sockets and job locks, doing nothing (a GC pause, a frozen VM). */
  pause(): void;
  /** SIGCONT: wakes up as if no time had passed, its leases possibly lapsed meanwhile. */
  resume(): void;
};

/**
 * Node flags that run the workspace from its sources: the `volley-source` export condition
 * makes `@volley/tools`, `@volley/api-schemas` and `@volley/client` resolve to their `src/`
 * instead of the `dist/` a published copy ships (and a clean clone has not built).
 */
export const SOURCE_CONDITION_ARGS: readonly string[] = ['--conditions=volley-source'];

const STDOUT_TAIL_LINES = 30;
const STDERR_TAIL_CHARS = 4_000;

/** SIGKILLed on test-process exit so a failed test cannot leave workers consuming the next run's jobs. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

type Waiter = { predicate: LinePredicate; resolve: (line: LogLine) => void; reject: (error: Error) => void };

export function spawnNode(options: SpawnNodeOptions): Promise<NodeProcess> {
  installExitHook();
  const { name } = options;
  const script = resolvePath(options.cwd ?? process.cwd(), options.script);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...options.env })) {
    if (value !== undefined) env[key] = value;
  }
  // process.execPath, not `node` from PATH: children must run the very Node (and type stripping) the tests run.
  const child = spawn(process.execPath, [...SOURCE_CONDITION_ARGS, script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  const lines: LogLine[] = [];
  const waiters = new Set<Waiter>();
  let stderrText = '';
  let exitResult: ExitResult | undefined;
  let spawnError: Error | undefined;

  const describe = (reason: string): string => {
    const stdoutTail = lines.slice(-STDOUT_TAIL_LINES).map(lineText).join('\n');
    return [
      `spawnNode(${name}): ${reason}`,
      `  script: ${script}`,
      `--- stdout (last ${STDOUT_TAIL_LINES} lines) ---`,
      stdoutTail || '(empty)',
      '--- stderr (tail) ---',
      stderrText.slice(-STDERR_TAIL_CHARS) || '(empty)',
    ].join('\n');
  };

  const matches = (predicate: LinePredicate, line: LogLine): boolean => {
    try {
      return predicate(line);
    } catch {
      // A predicate reading a field that this line lacks is a non-match, not a test failure.
      return false;
    }
  };

  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (text) => {
    const line = parseLine(text);
    lines.push(line);
    for (const waiter of waiters) {
      if (matches(waiter.predicate, line)) waiter.resolve(line);
    }
  });

  const verbose = process.env.VOLLEY_TEST_VERBOSE === '1';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderrText += chunk;
    if (verbose) process.stderr.write(chunk.replace(/^(?=.)/gm, `[${name}] `));
  });

  // 'close' rather than 'exit': it fires after stdout/stderr are drained, so `lines` and stderr are complete.
  let settleExit: (result: ExitResult) => void = () => {};
  const exited = new Promise<ExitResult>((resolve) => {
    settleExit = (result) => {
      if (exitResult) return;
      exitResult = result;
      liveChildren.delete(child);
      resolve(result);
      const reason = spawnError ? `failed to start: ${spawnError.message}` : `exited (code ${result.code}, signal ${result.signal}) before the expected line`;
      for (const waiter of waiters) waiter.reject(new Error(describe(reason)));
    };
  });
  child.once('close', (code, signal) => settleExit({ code, signal }));
  child.once('error', (error) => {
    spawnError = error;
    // A failed spawn may never emit 'close'.
    if (child.pid === undefined) settleExit({ code: null, signal: null });
  });

  const waitForLine = (predicate: LinePredicate, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = lines.find((line) => matches(predicate, line));
    if (seen) return Promise.resolve(seen);
    if (exitResult) {
      return Promise.reject(new Error(describe(`exited (code ${exitResult.code}, signal ${exitResult.signal}) without the expected line`)));
    }
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(describe(`no matching line within ${timeoutMs} ms`)));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          reject(error);
        },
      };
      waiters.add(waiter);
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5_000): Promise<ExitResult> => {
    if (exitResult) return exitResult;
    // A paused process acts on no signal but SIGKILL until it is continued.
    child.kill('SIGCONT');
    child.kill(signal);
    const escalate = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(escalate);
    }
  };

  const pause = (): void => void child.kill('SIGSTOP');
  const resume = (): void => void child.kill('SIGCONT');

  const kill = (): Promise<ExitResult> => {
    if (!exitResult) child.kill('SIGKILL');
    return exited;
  };

  const handle = (): NodeProcess => ({
    name,
    pid: child.pid ?? -1,
    child,
    lines,
    stderr: () => stderrText,
    output: (tail) => {
      const shown = tail ? lines.slice(-tail.lines) : lines;
      return `${shown.map(lineText).join('\n')}\n${tail ? stderrText.slice(-tail.stderrChars) : stderrText}`;
    },
    waitForLine,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop,
    kill,
    pause,
    resume,
  });

  const { ready } = options;
  if (!ready) {
    return new Promise<NodeProcess>((resolve, reject) => {
      child.once('spawn', () => resolve(handle()));
      exited.then(() => reject(new Error(describe(spawnError ? `failed to start: ${spawnError.message}` : 'exited immediately'))));
    });
  }
  return waitForLine(ready, options.readyTimeoutMs ?? 15_000).then(
    () => handle(),
    async (error: unknown) => {
      // Not ready means not usable: don't leave it running for the exit hook to find.
      await kill();
      throw error;
    },
  );
}

function lineText(line: LogLine): string {
  return line.raw === true ? String(line.msg) : JSON.stringify(line);
}

function parseLine(text: string): LogLine {
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as LogLine;
    } catch {
      // fall through: a line that merely starts with '{'
    }
  }
  return { msg: text, raw: true };
}
