import { IntegerRangeError } from '../errors';

const utf8 = new TextEncoder();
/** Byte strings at least this long are referenced, not copied, until `finish()`. */
const LARGE_CHUNK = 4096;
const U64_MAX = (1n << 64n) - 1n;

/**
 * Writes CBOR the way ciborium 0.2.2 does: minimal heads, definite lengths, no tags. Callers emit
 * map entries in the order the Rust side declares them; the writer never reorders.
 */
export class CborWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch = new Uint8Array(256);
  private used = 0;
  private total = 0;

  /** Writes a head with a non-negative argument < 2^64 using the shortest form. */
  head(major: number, arg: number | bigint): this {
    const value = typeof arg === 'bigint' ? arg : BigInt(arg);
    if (value < 0n || value > U64_MAX)
      throw new IntegerRangeError('CBOR argument', value, '[0, 2^64-1]');
    const m = major << 5;
    if (value < 24n) return this.raw1(m | Number(value));
    if (value < 0x100n) return this.rawN([m | 24, Number(value)]);
    if (value < 0x1_0000n) {
      const v = Number(value);
      return this.rawN([m | 25, v >> 8, v & 0xff]);
    }
    if (value < 0x1_0000_0000n) {
      const v = Number(value);
      return this.rawN([m | 26, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
    }
    const out = [m | 27];
    for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((value >> shift) & 0xffn));
    return this.rawN(out);
  }

  uint(value: number | bigint): this {
    return this.head(0, value);
  }

  /** Any integer in [-2^64, 2^64 - 1]. */
  int(value: number | bigint): this {
    const v = typeof value === 'bigint' ? value : BigInt(value);
    return v < 0n ? this.head(1, -1n - v) : this.head(0, v);
  }

  bytes(value: Uint8Array): this {
    this.head(2, value.length);
    return this.append(value);
  }

  text(value: string): this {
    const encoded = utf8.encode(value);
    this.head(3, encoded.length);
    return this.append(encoded);
  }

  arrayHeader(length: number): this {
    return this.head(4, length);
  }

  mapHeader(length: number): this {
    return this.head(5, length);
  }

  null(): this {
    return this.raw1(0xf6);
  }

  /** Appends already-encoded CBOR (or any raw bytes) verbatim. */
  append(value: Uint8Array): this {
    if (value.length >= LARGE_CHUNK) {
      this.flushScratch();
      this.chunks.push(value);
      this.total += value.length;
      return this;
    }
    this.ensure(value.length);
    this.scratch.set(value, this.used);
    this.used += value.length;
    this.total += value.length;
    return this;
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0]!.slice();
    const out = new Uint8Array(this.total);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }

  private raw1(byte: number): this {
    this.ensure(1);
    this.scratch[this.used++] = byte;
    this.total += 1;
    return this;
  }

  private rawN(bytes: number[]): this {
    this.ensure(bytes.length);
    for (const b of bytes) this.scratch[this.used++] = b;
    this.total += bytes.length;
    return this;
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.scratch.length) return;
    const grown = new Uint8Array(Math.max(this.scratch.length * 2, this.used + extra));
    grown.set(this.scratch.subarray(0, this.used));
    this.scratch = grown;
  }

  private flushScratch(): void {
    if (this.used === 0) return;
    this.chunks.push(this.scratch.slice(0, this.used));
    this.used = 0;
  }
}
