/**
 * The ABI is the documented interface: selectors of the calls the relayer makes and of the
 * custom errors it decodes (docs/compatibility.md#bridge-contract), and revert data decodes into
 * {name, args, permanent}. The reference's wrong `KeyAlreadyExists` selector (0x2dc09057) is not
 * the one used.
 */
import { AbiCoder, Interface } from 'ethers';
import { describe, expect, it } from 'vitest';
import { BRIDGE_ABI, BRIDGE_ERRORS_ABI } from './abi';
import { encodeInitializeAndHandle, nextWithdrawalStep } from './bridge-calls';
import { decodeRevert, decodeRevertData, formatRevert } from './decode-revert';

const errors = new Interface([...BRIDGE_ERRORS_ABI]);

describe('Bridge ABI', () => {
  it('has the documented function and error selectors', () => {
    const bridge = new Interface([...BRIDGE_ABI]);
    const fn = (name: string) => bridge.getFunction(name)!.selector;
    expect(fn('initializeMessage')).toBe('0xf4f547da');
    expect(fn('initializeAndHandleMessage')).toBe('0x90fd6931');
    expect(fn('handleMessage')).toBe('0x03936b73');
    expect(fn('signMessageWithSignature')).toBe('0x2f3f39ef');
    expect(fn('getValidatorSignatureCount')).toBe('0x02e10025');
    expect(fn('registerKeyWithSignature')).toBe('0xa107a14c');
    const err = (name: string) => errors.getError(name)!.selector;
    expect(err('InvalidPublicKey')).toBe('0xffc44e88');
    expect(err('KeyAlreadyExists')).toBe('0xe0accd63');
    expect(err('KeyExpired')).toBe('0x8524f9b8');
    expect(err('NotMessageInitializer')).toBe('0xe78d5843');
    expect(err('MessageAlreadyInitialized')).toBe('0x299c9e58');
    expect(err('ModuleCheckFailed')).toBe('0x83e29c65');
    expect(err('InvalidSequencerSignature')).toBe('0x0af8794c');
    expect(err('ECDSAInvalidSignature')).toBe('0xf645eedf');
    expect(err('ECDSAInvalidSignatureS')).toBe('0xd78bce0c');
    expect(err('ECDSAInvalidSignatureLength')).toBe('0xfce698f7');
  });

  it('encodes SequencerSignature as (bytes signature, uint256 submittedAt)', () => {
    const data = encodeInitializeAndHandle(
      {
        messageId: `0x${'11'.repeat(32)}`,
        targetAddress: '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
        payload: '0x',
        nativeTokenAmount: 5n,
        sequencerSignature: `0x${'22'.repeat(65)}`,
        submittedAt: 1_700_000_000n,
      },
      [`0x${'33'.repeat(65)}`],
    );
    expect(data.slice(0, 10)).toBe('0x90fd6931');
  });
});

describe('decodeRevert', () => {
  it('names custom errors with their arguments and whether a retry can help', () => {
    const module = '0x00000000000000000000000000000000000000aa';
    const moduleFailed = decodeRevertData(
      errors.encodeErrorResult('ModuleCheckFailed', [module, 1]),
    );
    expect(moduleFailed).toMatchObject({
      name: 'ModuleCheckFailed',
      args: [module, '1'],
      selector: '0x83e29c65',
      permanent: false,
    });
    const unknownKey = decodeRevertData(errors.encodeErrorResult('InvalidPublicKey', [module]));
    expect(unknownKey?.permanent).toBe(true);
    expect(formatRevert(unknownKey!)).toBe(`InvalidPublicKey(${module})`);
    expect(
      decodeRevertData(
        errors.encodeErrorResult('MessageAlreadyInitialized', [`0x${'ab'.repeat(32)}`]),
      )?.permanent,
    ).toBe(true);
  });

  it('decodes require strings and unknown selectors, and digs the data out of ethers errors', () => {
    const reason = `0x08c379a0${AbiCoder.defaultAbiCoder().encode(['string'], ['nope']).slice(2)}`;
    expect(decodeRevertData(reason)).toMatchObject({ name: 'Error', args: ['nope'] });
    expect(decodeRevertData('0xdeadbeef')).toMatchObject({
      name: 'UnknownError',
      permanent: false,
    });
    expect(decodeRevertData('0x')).toBeNull();
    const nested = { code: 'CALL_EXCEPTION', info: { error: { data: '0xe78d5843' } } };
    expect(decodeRevert(nested)?.name).toBe('NotMessageInitializer');
    expect(decodeRevert(new Error('socket hang up'))).toBeNull();
  });
});

describe('nextWithdrawalStep', () => {
  const sigs = [
    { signer: '0xa', signature: '0x01' },
    { signer: '0xb', signature: '0x02' },
  ];
  it('initializes atomically only with the threshold met', () => {
    const status = { initialized: false, completed: false };
    expect(
      nextWithdrawalStep({ status, threshold: 3, signatures: sigs, signedOnChain: [] }),
    ).toEqual({ kind: 'wait-signatures', have: 2, threshold: 3 });
    expect(
      nextWithdrawalStep({ status, threshold: 2, signatures: sigs, signedOnChain: [] }).kind,
    ).toBe('initialize-and-handle');
  });
  it('never initializes an initialized message again: adds missing signatures, then handles', () => {
    const status = { initialized: true, completed: false };
    expect(
      nextWithdrawalStep({ status, threshold: 2, signatures: sigs, signedOnChain: ['0xa'] }),
    ).toEqual({ kind: 'sign', signature: '0x02', signer: '0xb' });
    expect(
      nextWithdrawalStep({ status, threshold: 2, signatures: sigs, signedOnChain: ['0xa', '0xb'] }),
    ).toEqual({ kind: 'handle' });
    expect(
      nextWithdrawalStep({
        status: { initialized: true, completed: true },
        threshold: 2,
        signatures: [],
        signedOnChain: [],
      }),
    ).toEqual({ kind: 'completed' });
  });
});
