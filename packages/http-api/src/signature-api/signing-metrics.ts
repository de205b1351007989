import { Counter, Gauge, type Registry } from 'prom-client';

/** Bridge signer mode: the validator's signing of committed withdrawals (its outbox signer). */
export interface SigningMetrics {
  /** `synddb_validator_withdrawals_signed_total`: signed after their commit. */
  readonly withdrawalsSigned: Counter;
  /** `synddb_validator_withdrawal_signing_errors_total`: failed attempts (the withdrawal stays queued). */
  readonly withdrawalSigningErrors: Counter;
  /** `synddb_validator_withdrawals_unsigned`: queued withdrawals the last signing round left unsigned. */
  readonly withdrawalsUnsigned: Gauge;
}

export function createSigningMetrics(registry: Registry): SigningMetrics {
  const registers = [registry];
  return {
    withdrawalsSigned: new Counter({
      name: 'synddb_validator_withdrawals_signed_total',
      help: 'Withdrawals signed for the bridge (after their data committed)',
      registers,
    }),
    withdrawalSigningErrors: new Counter({
      name: 'synddb_validator_withdrawal_signing_errors_total',
      help: 'Failed attempts to sign a queued withdrawal (it stays queued and is retried)',
      registers,
    }),
    withdrawalsUnsigned: new Gauge({
      name: 'synddb_validator_withdrawals_unsigned',
      help: 'Withdrawals queued for signing that the last signing round left unsigned',
      registers,
    }),
  };
}
