import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_STATES, type JobState } from './store/job-store';

export interface RelayerMetrics {
  readonly registry: Registry;
  submissions: Counter<'step'>;
  replacements: Counter;
  reverts: Counter<'error'>;
  thresholdToConfirmation: Histogram;
  gasSpent: Counter;
  gasUsed: Counter;
  balance: Gauge;
  rpcErrors: Counter<'endpoint'>;
  signaturesFetched: Counter<'validator'>;
  signaturesRejected: Counter<'validator' | 'reason'>;
  validatorErrors: Counter<'validator'>;
  feeCapPaused: Gauge;
  jobsFailed: Counter<'reason'>;
}

/**
 * The relayer's Prometheus metrics (`synddb_relayer_*`). Job counts by state are read from the
 * job store at scrape time, so they survive restarts and never drift.
 */
export function createRelayerMetrics(
  countsByState: () => Record<JobState, number>,
): RelayerMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'synddb_relayer_jobs',
    help: 'Jobs in the job database by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = countsByState();
      for (const state of JOB_STATES) this.set({ state }, counts[state]);
    },
  });
  return {
    registry,
    submissions: new Counter({
      name: 'synddb_relayer_submissions_total',
      help: 'Transactions broadcast (first versions), by step (initialize-and-handle, sign, handle, register-key)',
      labelNames: ['step'],
      registers: [registry],
    }),
    replacements: new Counter({
      name: 'synddb_relayer_replacements_total',
      help: 'Fee replacements (same nonce, fees +12.5% or more)',
      registers: [registry],
    }),
    reverts: new Counter({
      name: 'synddb_relayer_reverts_total',
      help: 'Simulations and mined transactions that reverted, by decoded error name',
      labelNames: ['error'],
      registers: [registry],
    }),
    thresholdToConfirmation: new Histogram({
      name: 'synddb_relayer_threshold_to_confirmation_seconds',
      help: 'Time from the threshold-th valid signature seen to the confirmation of the withdrawal',
      buckets: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300],
      registers: [registry],
    }),
    gasSpent: new Counter({
      name: 'synddb_relayer_gas_spent_wei_total',
      help: 'Wei paid for gas by mined transactions',
      registers: [registry],
    }),
    gasUsed: new Counter({
      name: 'synddb_relayer_gas_used_total',
      help: 'Gas used by mined transactions',
      registers: [registry],
    }),
    balance: new Gauge({
      name: 'synddb_relayer_account_balance_wei',
      help: "The relayer account's balance (last read)",
      registers: [registry],
    }),
    rpcErrors: new Counter({
      name: 'synddb_relayer_rpc_errors_total',
      help: 'JSON-RPC transport failures by endpoint (scheme and host only)',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    signaturesFetched: new Counter({
      name: 'synddb_relayer_signatures_fetched_total',
      help: 'Valid validator signatures fetched, by validator URL',
      labelNames: ['validator'],
      registers: [registry],
    }),
    signaturesRejected: new Counter({
      name: 'synddb_relayer_signatures_rejected_total',
      help: 'Validator signatures dropped by the local checks, by validator and reason',
      labelNames: ['validator', 'reason'],
      registers: [registry],
    }),
    validatorErrors: new Counter({
      name: 'synddb_relayer_validator_errors_total',
      help: 'Signature requests that failed (down, timeout, bad answer), by validator',
      labelNames: ['validator'],
      registers: [registry],
    }),
    feeCapPaused: new Gauge({
      name: 'synddb_relayer_fee_cap_paused',
      help: '1 while jobs wait because the network fee is above MAX_FEE_PER_GAS_GWEI (alert on it)',
      registers: [registry],
    }),
    jobsFailed: new Counter({
      name: 'synddb_relayer_jobs_failed_total',
      help: 'Jobs that ended failed, by reason (the decoded error name)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
