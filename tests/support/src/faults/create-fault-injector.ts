import { seededRandom } from '../random/seeded-random';
import { testSeed } from '../random/test-seed';
import type {
  Fault,
  FaultKind,
  FaultOperation,
  FaultRequest,
  FaultRule,
  ServedFault,
} from './fault-types';

/** A fault rule that cannot be applied (unknown kind, probability outside [0, 1], ...). */
export class FaultRuleError extends Error {
  override name = 'FaultRuleError';

  constructor(index: number, message: string) {
    super(`fault rule ${index}: ${message}`);
  }
}

export interface FaultInjectorOptions {
  /** Names the server in printed lines. Default 'faults'. */
  name?: string;
  /** Where the seed of probabilistic rules is printed. Default `console.error`. */
  log?: (line: string) => void;
}

export interface FaultSetOptions {
  /**
   * Seed of the generator behind `probability` (a 32-bit integer). Default: the test file's seed
   * (`SYNDDB_TEST_SEED`, else random, see `testSeed`). Printed either way.
   */
  seed?: number;
}

/** The faults a test server or proxy injects, controlled by the test. */
export interface FaultInjector {
  /** Replaces the rules (their `skip`/`times` budgets start afresh). Counts are kept. */
  set(rules: readonly FaultRule[], options?: FaultSetOptions): void;
  /** Removes every rule: requests are served normally again. Counts are kept. */
  clear(): void;
  /** The current rules. */
  rules(): readonly FaultRule[];
  /** The seed of the current rules' generator (set when a rule has a probability). */
  readonly seed: number | undefined;
  /** Faults served since the server started, optionally only of one operation and/or kind. */
  count(filter?: { operation?: FaultOperation; kind?: FaultKind }): number;
  /** The most recent served faults (up to 10,000), oldest first. */
  served(): readonly ServedFault[];
  /** Resolves once `count()` reaches `total`; rejects with the signal's reason on abort. */
  whenServed(total: number, options?: { signal?: AbortSignal }): Promise<void>;
  /** For servers: the fault for this request, or null. A returned fault is counted as served. */
  pick(request: FaultRequest): Fault | null;
}

const KINDS: ReadonlySet<string> = new Set<FaultKind>([
  'status',
  'reset',
  'hang',
  'delay',
  'reset-mid-body',
  'truncate',
  'slow-body',
  'stall',
]);
const MAX_SERVED_LOG = 10_000;

interface RuleState {
  rule: FaultRule;
  operations: ReadonlySet<FaultOperation> | 'any';
  matched: number;
  applied: number;
}

/**
 * The rule engine behind `GcsTestServer.faults` and `HttpFaultProxy.faults`; usable by any test
 * server: call `pick()` per request and deliver the fault with `deliverFault` /
 * `faultBeforeResponse`.
 */
export function createFaultInjector(options: FaultInjectorOptions = {}): FaultInjector {
  const name = options.name ?? 'faults';
  const log = options.log ?? ((line: string) => console.error(line));
  let states: RuleState[] = [];
  let seed: number | undefined;
  let random: () => number = Math.random;
  let total = 0;
  const counts = new Map<string, number>();
  const servedLog: ServedFault[] = [];
  let waiters: { total: number; resolve: () => void }[] = [];

  function set(rules: readonly FaultRule[], setOptions: FaultSetOptions = {}): void {
    rules.forEach(validateRule);
    states = rules.map((rule) => ({
      rule,
      operations:
        rule.on === 'any' ? 'any' : new Set(typeof rule.on === 'string' ? [rule.on] : rule.on),
      matched: 0,
      applied: 0,
    }));
    const probabilistic = rules.filter((r) => r.probability !== undefined).length;
    if (probabilistic === 0) {
      seed = undefined;
      random = Math.random;
      return;
    }
    seed = testSeed(`${name}: ${probabilistic} probabilistic fault rule(s)`, {
      ...(setOptions.seed !== undefined ? { seed: setOptions.seed } : {}),
      log,
    });
    random = seededRandom(seed);
  }

  function matches(state: RuleState, request: FaultRequest): boolean {
    const { rule } = state;
    if (state.operations !== 'any' && !state.operations.has(request.operation)) return false;
    if (rule.method !== undefined && rule.method.toUpperCase() !== request.method.toUpperCase())
      return false;
    if (rule.path !== undefined) {
      if (
        typeof rule.path === 'string'
          ? !request.path.includes(rule.path)
          : !rule.path.test(request.path)
      )
        return false;
    }
    return true;
  }

  function pick(request: FaultRequest): Fault | null {
    for (let index = 0; index < states.length; index++) {
      const state = states[index]!;
      if (!matches(state, request)) continue;
      state.matched++;
      const { rule } = state;
      if (state.matched <= (rule.skip ?? 0)) continue;
      if (rule.times !== undefined && state.applied >= rule.times) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      state.applied++;
      record({ ...request, rule: index, kind: rule.fault.kind, at: Date.now() });
      return rule.fault;
    }
    return null;
  }

  function record(served: ServedFault): void {
    total++;
    const key = `${served.operation}|${served.kind}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    servedLog.push(served);
    if (servedLog.length > MAX_SERVED_LOG) servedLog.shift();
    const ready = waiters.filter((w) => total >= w.total);
    if (ready.length > 0) {
      waiters = waiters.filter((w) => total < w.total);
      for (const waiter of ready) waiter.resolve();
    }
  }

  return {
    set,
    clear: () => set([]),
    rules: () => states.map((s) => s.rule),
    get seed() {
      return seed;
    },
    count(filter = {}) {
      if (filter.operation === undefined && filter.kind === undefined) return total;
      let sum = 0;
      for (const [key, value] of counts) {
        const [operation, kind] = key.split('|');
        if (filter.operation !== undefined && filter.operation !== operation) continue;
        if (filter.kind !== undefined && filter.kind !== kind) continue;
        sum += value;
      }
      return sum;
    },
    served: () => servedLog,
    whenServed(target, waitOptions = {}) {
      const { signal } = waitOptions;
      if (total >= target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const waiter = {
          total: target,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    pick,
  };
}

function validateRule(rule: FaultRule, index: number): void {
  const fault: Fault | undefined = rule?.fault;
  if (fault === undefined || !KINDS.has(fault.kind)) {
    throw new FaultRuleError(index, `unknown fault kind ${JSON.stringify(fault?.kind)}`);
  }
  const on: unknown = rule.on;
  if (on === undefined || on === '' || (Array.isArray(on) && on.length === 0)) {
    throw new FaultRuleError(index, '`on` names no operation');
  }
  const nonNegative = (label: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0))
      throw new FaultRuleError(index, `${label} must be a non-negative integer, got ${value}`);
  };
  nonNegative('skip', rule.skip);
  nonNegative('times', rule.times);
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    throw new FaultRuleError(index, `probability must be in [0, 1], got ${rule.probability}`);
  }
  switch (fault.kind) {
    case 'status':
      if (!(Number.isInteger(fault.status) && fault.status >= 100 && fault.status <= 599))
        throw new FaultRuleError(index, `status must be an HTTP status, got ${fault.status}`);
      if (typeof fault.retryAfter === 'number') nonNegative('retryAfter', fault.retryAfter);
      break;
    case 'delay':
      nonNegative('ms', fault.ms);
      break;
    case 'reset-mid-body':
    case 'truncate':
    case 'stall':
      nonNegative('afterBytes', fault.afterBytes);
      break;
    case 'slow-body':
      nonNegative('intervalMs', fault.intervalMs);
      if (
        fault.chunkBytes !== undefined &&
        !(Number.isSafeInteger(fault.chunkBytes) && fault.chunkBytes >= 1)
      )
        throw new FaultRuleError(
          index,
          `chunkBytes must be a positive integer, got ${fault.chunkBytes}`,
        );
      break;
    default:
      break;
  }
}
