import { Interface } from 'ethers';
import { BRIDGE_ERRORS_ABI } from './abi';
import type { DecodedRevert } from './errors';

const errorsInterface = new Interface([...BRIDGE_ERRORS_ABI]);

/**
 * Errors after which the same call can succeed later: a threshold not yet met (more signatures
 * arrive), a Bridge short of funds (it can be funded), a message another relayer has not
 * initialized yet. Every other custom error is permanent: the inputs are wrong.
 */
const TRANSIENT_ERRORS = new Set([
  'ModuleCheckFailed',
  'InsufficientBalance',
  'MessageNotInitialized',
]);

/** Decodes revert data (`0x` + selector + arguments) with the Bridge's errors; null if unknown. */
export function decodeRevertData(data: string): DecodedRevert | null {
  if (!/^0x[0-9a-fA-F]{8}/.test(data)) return null;
  const selector = data.slice(0, 10).toLowerCase();
  if (selector === '0x08c379a0' || selector === '0x4e487b71') {
    const isPanic = selector === '0x4e487b71';
    try {
      const [value] = errorsInterface
        .getAbiCoder()
        .decode([isPanic ? 'uint256' : 'string'], `0x${data.slice(10)}`);
      return {
        name: isPanic ? 'Panic' : 'Error',
        args: [String(value)],
        selector,
        permanent: true,
      };
    } catch {
      return null;
    }
  }
  try {
    const parsed = errorsInterface.parseError(data);
    if (parsed === null) return { name: 'UnknownError', args: [data], selector, permanent: false };
    return {
      name: parsed.name,
      args: parsed.args.map((a: unknown) =>
        typeof a === 'string' && /^0x[0-9a-fA-F]{40}$/.test(a) ? a.toLowerCase() : String(a),
      ),
      selector,
      permanent: !TRANSIENT_ERRORS.has(parsed.name),
    };
  } catch {
    return { name: 'UnknownError', args: [data], selector, permanent: false };
  }
}

/**
 * The revert data inside an error thrown by ethers (a CALL_EXCEPTION from `staticCall`,
 * `estimateGas` or a receipt, or a raw JSON-RPC error payload), searched a few levels deep.
 */
export function revertDataOf(error: unknown): string | null {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): string | null => {
    if (depth > 6 || value === null || typeof value !== 'object' || seen.has(value)) return null;
    seen.add(value);
    const record = value as Record<string, unknown>;
    const data = record.data;
    if (typeof data === 'string' && /^0x[0-9a-fA-F]{8}/.test(data)) return data;
    for (const key of ['data', 'error', 'info', 'cause', 'revert', 'payload']) {
      const found = visit(record[key], depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  return visit(error, 0);
}

/** The decoded custom error of a failed call, or null when it carries no revert data. */
export function decodeRevert(error: unknown): DecodedRevert | null {
  const data = revertDataOf(error);
  return data === null ? null : decodeRevertData(data);
}

/** `Name(arg, arg)`: a revert as one line, for a job's reason and logs. */
export function formatRevert(revert: DecodedRevert): string {
  return `${revert.name}(${revert.args.join(', ')})`;
}
