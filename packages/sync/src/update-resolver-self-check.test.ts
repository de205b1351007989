import { describe, expect, it } from 'vitest';
import { checkUpdateResolver } from './update-resolver-self-check';

describe('checkUpdateResolver (the resolver worker start-up check)', () => {
  it('passes: the resolved root is the applying thread’s', () => {
    expect(checkUpdateResolver()).toBeNull();
  });
});
