import { computeAddress, Wallet } from 'ethers';

/** A fresh random secp256k1 key, `0x` + 64 hex (for local devnets and tests only). */
export function randomKey(): string {
  return Wallet.createRandom().privateKey;
}

/** The EVM address of a private key. */
export function addressOfKey(privateKey: string): string {
  return computeAddress(privateKey.startsWith('0x') ? privateKey : `0x${privateKey}`);
}
