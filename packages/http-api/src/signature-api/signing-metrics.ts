import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Bridge signer mode: the decisions about withdrawals (accepted, refused by a policy, unsignable),
 * their signing after commit, their completion on the Bridge, and the state attestations.
 */
export interface SigningMetrics {
  /** `synddb_validator_withdrawals_signed_total`: signed after their commit. */
  readonly withdrawalsSigned: Counter;
  /** `synddb_validator_withdrawal_signing_errors_total`: failed attempts (the withdrawal stays queued). */
  readonly withdrawalSigningErrors: Counter;
  /** `synddb_validator_withdrawals_unsigned`: queued withdrawals the last signing round left unsigned. */
  readonly withdrawalsUnsigned: Gauge;
  /** `synddb_validator_withdrawals_refused_total{policy}`: refused by a policy, decided by this process. */
  readonly withdrawalsRefused: Counter<'policy'>;
  /** `synddb_validator_withdrawals_unsignable_total{reason}`: no valid message id, recipient or amount. */
  readonly withdrawalsUnsignable: Counter<'reason'>;
  /** `synddb_validator_withdrawals{status}`: withdrawals in the replica by decision (survives restarts). */
  readonly withdrawalsRecorded: Gauge<'status'>;
  /** `synddb_validator_withdrawals_pending`: signed, not yet completed on-chain. */
  readonly withdrawalsPending: Gauge;
  /** `synddb_withdrawals_processed_total`: signed withdrawals seen completed on the Bridge (`MessageHandled`). */
  readonly withdrawalsProcessed: Counter;
  /** `synddb_validator_bridge_block`: last block whose Bridge events are recorded (confirmed). */
  readonly bridgeBlock: Gauge;
  /** `synddb_validator_bridge_rpc_errors_total`: failed polls of the chain (retried). */
  readonly bridgeRpcErrors: Counter;
  /** `synddb_validator_state_attestations_signed_total`: state attestations signed after their commit. */
  readonly stateAttestationsSigned: Counter;
  /** `synddb_validator_state_attestation_signing_errors_total`: failed attempts (the attestation stays queued). */
  readonly stateAttestationSigningErrors: Counter;
  /** `synddb_validator_state_attestations_unsigned`: queued attestations the last signing round left unsigned. */
  readonly stateAttestationsUnsigned: Gauge;
  /** `synddb_validator_state_attestation_sequence`: sequence of the last state attestation signed. */
  readonly stateAttestationSequence: Gauge;
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
    withdrawalsRefused: new Counter({
      name: 'synddb_validator_withdrawals_refused_total',
      help: 'Withdrawals refused by a withdrawal policy (never signed), by policy',
      labelNames: ['policy'],
      registers,
    }),
    withdrawalsUnsignable: new Counter({
      name: 'synddb_validator_withdrawals_unsignable_total',
      help: 'Withdrawals the Bridge could never accept (no message id, bad recipient or amount), never signed',
      labelNames: ['reason'],
      registers,
    }),
    withdrawalsRecorded: new Gauge({
      name: 'synddb_validator_withdrawals',
      help: 'Withdrawals in the replica by decision: accepted, refused, unsignable',
      labelNames: ['status'],
      registers,
    }),
    withdrawalsPending: new Gauge({
      name: 'synddb_validator_withdrawals_pending',
      help: 'Signed withdrawals not yet completed on the Bridge',
      registers,
    }),
    withdrawalsProcessed: new Counter({
      name: 'synddb_withdrawals_processed_total',
      help: 'Signed withdrawals completed on the Bridge (MessageHandled, confirmed)',
      registers,
    }),
    bridgeBlock: new Gauge({
      name: 'synddb_validator_bridge_block',
      help: 'Last block whose Bridge events are recorded (head minus the confirmation depth)',
      registers,
    }),
    bridgeRpcErrors: new Counter({
      name: 'synddb_validator_bridge_rpc_errors_total',
      help: 'Failed polls of the Bridge chain (retried)',
      registers,
    }),
    stateAttestationsSigned: new Counter({
      name: 'synddb_validator_state_attestations_signed_total',
      help: 'State attestations signed (after their sequence committed)',
      registers,
    }),
    stateAttestationSigningErrors: new Counter({
      name: 'synddb_validator_state_attestation_signing_errors_total',
      help: 'Failed attempts to sign a queued state attestation (it stays queued and is retried)',
      registers,
    }),
    stateAttestationsUnsigned: new Gauge({
      name: 'synddb_validator_state_attestations_unsigned',
      help: 'State attestations queued for signing that the last signing round left unsigned',
      registers,
    }),
    stateAttestationSequence: new Gauge({
      name: 'synddb_validator_state_attestation_sequence',
      help: 'Sequence of the last state attestation signed',
      registers,
    }),
  };
}
