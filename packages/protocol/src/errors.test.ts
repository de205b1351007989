import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, isSyndDBError, SyndDBError, walkErrorChain } from './errors';

class StorageDown extends SyndDBError {
  override name = 'StorageDown';
  declare readonly code: 'STORAGE_DOWN';
  override readonly kind = 'storage';
  constructor(cause?: unknown) {
    super('STORAGE_DOWN', 'storage is down', { cause });
  }
}

describe('SyndDBError', () => {
  it('keeps the (code, shortMessage, options) constructor; kind defaults to internal', () => {
    const error = new SyndDBError('SOMETHING', 'it failed', { details: 'at offset 3' });
    expect(error).toMatchObject({
      name: 'SyndDBError',
      code: 'SOMETHING',
      kind: 'internal',
      shortMessage: 'it failed',
      details: 'at offset 3',
      message: 'it failed\n\nDetails: at offset 3',
    });
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
    expect(new SyndDBError('X', 'x', { kind: 'gap' }).kind).toBe('gap');
  });

  it('a subclass declares its code and kind', () => {
    const error = new StorageDown();
    expect([error.code, error.kind, error.message]).toEqual([
      'STORAGE_DOWN',
      'storage',
      'storage is down',
    ]);
  });

  describe('details', () => {
    it('given details win over the cause', () => {
      const error = new SyndDBError('X', 'x', { details: 'mine', cause: new Error('theirs') });
      expect(error.details).toBe('mine');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it("are an Error cause's message", () => {
      const error = new SyndDBError('X', 'cannot read', { cause: new Error('EIO: i/o error') });
      expect(error.details).toBe('EIO: i/o error');
      expect(error.message).toBe('cannot read\n\nDetails: EIO: i/o error');
    });

    it("are a SyndDBError cause's short message and details, on one line, through the chain", () => {
      const inner = new SyndDBError('INNER', 'GET /x returned HTTP 503', { details: 'body: busy' });
      const middle = new StorageDown(inner);
      expect(middle.details).toBe('GET /x returned HTTP 503: body: busy');
      const outer = new SyndDBError('OUTER', 'sync failed', { cause: middle });
      expect(outer.details).toBe('storage is down: GET /x returned HTTP 503: body: busy');
      // Without details of its own, a SyndDBError cause contributes its short message.
      expect(new SyndDBError('O', 'o', { cause: new StorageDown() }).details).toBe(
        'storage is down',
      );
    });

    it('are anything else as text', () => {
      expect(new SyndDBError('X', 'x', { cause: 'ECONNRESET' }).details).toBe('ECONNRESET');
      expect(new SyndDBError('X', 'x', { cause: 42 }).details).toBe('42');
      expect(new SyndDBError('X', 'x', { cause: null }).details).toBe('null');
    });
  });

  describe('walk', () => {
    const root = new TypeError('fetch failed');
    const storage = new StorageDown(root);
    const outer = new SyndDBError('OUTER', 'outer', { cause: storage });

    it('without a predicate returns the innermost cause', () => {
      expect(outer.walk()).toBe(root);
      expect(new StorageDown().walk()).toBeInstanceOf(StorageDown);
    });

    it('returns the first error the predicate accepts, outermost first, or null', () => {
      expect(outer.walk((e) => e instanceof StorageDown)).toBe(storage);
      expect(outer.walk(isSyndDBError)).toBe(outer);
      expect(outer.walk((e) => e instanceof TypeError)).toBe(root);
      expect(outer.walk((e) => e instanceof RangeError)).toBeNull();
    });

    it('narrows with a type guard', () => {
      const found = outer.walk((e): e is StorageDown => e instanceof StorageDown);
      expect(found?.kind).toBe('storage');
    });

    it('walkErrorChain starts from any value and stops on cycles', () => {
      const plain = new Error('wrapper', { cause: storage });
      expect(walkErrorChain(plain, isSyndDBError)).toBe(storage);
      expect(walkErrorChain('text', isSyndDBError)).toBeNull();
      expect(walkErrorChain(undefined)).toBeUndefined();
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(walkErrorChain(a, (e) => e instanceof RangeError)).toBeNull();
    });
  });

  it('isSyndDBError also recognizes errors of another copy of this package', () => {
    const foreign = Object.create(
      Object.defineProperty({}, Symbol.for('@synddb/protocol/SyndDBError'), { value: true }),
    ) as object;
    expect(isSyndDBError(foreign)).toBe(true);
    expect(isSyndDBError(new Error('x'))).toBe(false);
    expect(isSyndDBError({ code: 'X', kind: 'gap' })).toBe(false);
  });

  it('ERROR_KINDS describes every kind', () => {
    for (const [kind, description] of Object.entries(ERROR_KINDS)) {
      expect(kind).toMatch(/^[a-z]+$/);
      expect(description.length).toBeGreaterThan(20);
    }
  });
});
