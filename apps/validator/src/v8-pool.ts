// V8's platform threads (`--v8-pool-size`, Node's default 4) run every isolate's background work:
// GC helpers, concurrent marking, background compilation. Their number is fixed when Node starts,
// so the binary relaunches itself once, with `process.execve` (same process id, nothing started
// yet), when it wants another number. On the 2-core VM of the validator's read bench, 1 thread
// instead of 4 took the caught-up point-query p99 from 2.2-2.9 to 1.6-2.3 ms and lost nothing of
// catch-up speed (apps/validator README, "V8's background threads").
import { availableParallelism } from 'node:os';

/** Node's own default `--v8-pool-size`. */
export const NODE_V8_POOL_SIZE = 4;
/** Set in the relaunched process: never relaunch twice. */
export const RELAUNCHED_ENV = 'SYNDDB_V8_POOL_RELAUNCHED';

/** `V8_POOL_SIZE=auto`: one thread fewer than the cores, between 1 and Node's default. */
export function autoV8PoolSize(cores = availableParallelism()): number {
  return Math.max(1, Math.min(NODE_V8_POOL_SIZE, cores - 1));
}

export interface V8PoolInput {
  /** `process.argv`: node, the script, then the validator's arguments. */
  argv: readonly string[];
  execArgv: readonly string[];
  env: NodeJS.ProcessEnv;
  cores: number;
  /** `process.execve` exists (Node >= 22.15 / 23.11, not on Windows). */
  canExec: boolean;
}

/**
 * The pool size the validator's `--v8-pool-size` / `V8_POOL_SIZE` asks for: a number, `auto`
 * (default) as `autoV8PoolSize`, 0 for Node's own choice; undefined for a value the configuration
 * will refuse (the relaunch is skipped and the parser reports it).
 */
export function requestedV8PoolSize(input: V8PoolInput): number | undefined {
  let value: string | undefined;
  const args = input.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg === '--v8-pool-size') value = args[i + 1];
    else if (arg.startsWith('--v8-pool-size=')) value = arg.slice('--v8-pool-size='.length);
  }
  value ??= input.env.V8_POOL_SIZE ?? 'auto';
  const text = value.trim().toLowerCase();
  if (text === 'auto') return autoV8PoolSize(input.cores);
  if (!/^\d{1,2}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 64 ? n : undefined;
}

/**
 * The command line to relaunch with (`[node, --v8-pool-size=N, ...node's flags, script, ...args]`),
 * or null to run as is: the size is already Node's (or set by node's flags or NODE_OPTIONS, which
 * win), `process.execve` is missing, or this is the relaunched process.
 */
export function v8PoolRelaunch(input: V8PoolInput, execPath: string): string[] | null {
  if (!input.canExec || input.env[RELAUNCHED_ENV] === '1') return null;
  const setByNode = (flags: string) => /(^|\s)--v8-pool-size(=|\s|$)/.test(flags);
  if (input.execArgv.some((a) => setByNode(a)) || setByNode(input.env.NODE_OPTIONS ?? '')) {
    return null;
  }
  const wanted = requestedV8PoolSize(input);
  if (wanted === undefined || wanted === 0 || wanted === NODE_V8_POOL_SIZE) return null;
  return [execPath, `--v8-pool-size=${wanted}`, ...input.execArgv, ...input.argv.slice(1)];
}

/**
 * Relaunches this process with the wanted `--v8-pool-size` (see `v8PoolRelaunch`); returns only
 * when it does not (or cannot: the exec failed, and the validator runs with Node's pool).
 */
export function relaunchForV8PoolSize(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: object) => never })
    .execve;
  const args = v8PoolRelaunch(
    {
      argv: process.argv,
      execArgv: process.execArgv,
      env: process.env,
      cores: availableParallelism(),
      canExec: typeof execve === 'function' && process.platform !== 'win32',
    },
    process.execPath,
  );
  if (args === null) return;
  try {
    execve!(process.execPath, args, { ...process.env, [RELAUNCHED_ENV]: '1' });
  } catch {
    // not relaunched: run with Node's pool size
  }
}

/** The pool size this process runs with (its node flags, else NODE_OPTIONS, else Node's 4). */
export function currentV8PoolSize(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): number {
  const flags = [...nodeOptions.split(/\s+/), ...execArgv];
  let size = NODE_V8_POOL_SIZE;
  for (let i = 0; i < flags.length; i++) {
    const m = /^--v8-pool-size(?:=(\d+))?$/.exec(flags[i]!);
    if (m !== null) size = Number(m[1] ?? flags[i + 1]);
  }
  return size;
}
