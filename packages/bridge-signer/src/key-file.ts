import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BridgeSignerKeyError } from './errors';
import { type BridgeSignerKey, generateSecretHex, signerKeyFromHex } from './signer-key';

/** A key file is one line; anything much longer is not a key file. */
const MAX_KEY_FILE_BYTES = 256;

export interface LoadOrCreateSignerKeyOptions {
  /** Path of the key file: one line `0x<64 hex>\n`, mode 0600. */
  keyFile: string;
  /** Create the file with a fresh key when it is missing. Default true. */
  create?: boolean;
}

export interface LoadOrCreateSignerKeyReturnType {
  key: BridgeSignerKey;
  /** True when this call generated the key and wrote the file. */
  created: boolean;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** Reads and checks an existing key file; null when it does not exist. */
function readKeyFile(keyFile: string): BridgeSignerKey | null {
  let fd: number;
  try {
    fd = openSync(keyFile, 'r');
  } catch (cause) {
    if (errorCode(cause) === 'ENOENT') return null;
    throw new BridgeSignerKeyError('Cannot open the signer key file', {
      details: `${keyFile}: ${errorCode(cause) ?? String(cause)}`,
      cause,
    });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new BridgeSignerKeyError('Signer key file is not a regular file', {
        details: keyFile,
      });
    }
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new BridgeSignerKeyError('Signer key file is accessible by group or others', {
        details: `${keyFile} has mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')}; run chmod 600 ${keyFile}`,
      });
    }
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_KEY_FILE_BYTES) break;
    }
    const text = buffer.toString('utf8', 0, length).trim();
    buffer.fill(0);
    if (length > MAX_KEY_FILE_BYTES) {
      throw new BridgeSignerKeyError('Signer key file is malformed', {
        details: `${keyFile} is larger than ${MAX_KEY_FILE_BYTES} bytes; expected one line 0x<64 hex>`,
      });
    }
    try {
      return signerKeyFromHex(text);
    } catch (cause) {
      throw new BridgeSignerKeyError('Signer key file is malformed', {
        details: `${keyFile}: expected one line 0x<64 hex> holding a valid secp256k1 secret`,
        cause,
      });
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `contents` to `keyFile` only if it does not exist, all at once: the key goes to a private
 * temporary file (0600, fsynced) that is then hard-linked into place. `link` fails when the target
 * exists, so an existing key is never overwritten and two concurrent creators end with one key.
 * Returns false when another file was already there. Filesystems without hard links fall back to
 * an exclusive create of the file itself.
 */
function createKeyFileOnce(keyFile: string, contents: string): boolean {
  const dir = dirname(keyFile);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(
    dir,
    `.${basename(keyFile)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  writePrivateFile(temp, contents);
  try {
    linkSync(temp, keyFile);
  } catch (cause) {
    const code = errorCode(cause);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      throw cause;
    }
    try {
      writePrivateFile(keyFile, contents);
    } catch (fallbackCause) {
      if (errorCode(fallbackCause) === 'EEXIST') return false;
      throw fallbackCause;
    }
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone; nothing to clean up.
    }
  }
  syncDirectory(dir);
  return true;
}

/** Creates `path` exclusively with mode 0600 and the contents flushed to disk. */
function writePrivateFile(path: string, contents: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    // The umask cannot add bits, but make the mode exact whatever it is.
    if (process.platform !== 'win32') fchmodSync(fd, 0o600);
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the new directory entry durable (best effort: not every platform can fsync a directory). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some filesystems refuse; the file itself is already fsynced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Loads the bridge signer key from `keyFile`, creating it with a fresh key when it is missing
 * (unless `create` is false). The key persists across restarts, so the address registered on the
 * Bridge stays valid (the Rust validator generates a new key at every start,
 * docs/defects-fixed.md#ephemeral-bridge-key).
 *
 * Throws `BridgeSignerKeyError` when the file is missing and `create` is false, is malformed, is
 * accessible by group or others (fix with `chmod 600`), or cannot be read or created.
 */
export function loadOrCreateSignerKey(
  options: LoadOrCreateSignerKeyOptions,
): LoadOrCreateSignerKeyReturnType {
  const { keyFile } = options;
  const existing = readKeyFile(keyFile);
  if (existing !== null) return { key: existing, created: false };
  if (options.create === false) {
    throw new BridgeSignerKeyError('Signer key file does not exist', {
      details: `${keyFile} is missing and creating it is disabled`,
    });
  }
  const hex = generateSecretHex();
  let created: boolean;
  try {
    created = createKeyFileOnce(keyFile, `${hex}\n`);
  } catch (cause) {
    throw new BridgeSignerKeyError('Cannot create the signer key file', {
      details: `${keyFile}: ${errorCode(cause) ?? String(cause)}`,
      cause,
    });
  }
  if (created) return { key: signerKeyFromHex(hex), created: true };
  // Another process created it between our read and our link: use theirs.
  const winner = readKeyFile(keyFile);
  if (winner === null) {
    throw new BridgeSignerKeyError('Signer key file disappeared while it was being created', {
      details: keyFile,
    });
  }
  return { key: winner, created: false };
}
