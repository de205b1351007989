import type { UpdateResolver } from '@synddb/sync';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of the state root's UPDATE resolver worker (`@synddb/sync` UpdateResolver), read from
 * its counters at each scrape: whether it runs, how many changesets' UPDATEs it resolved, how
 * often the sync thread resolved them itself instead (a failed or abandoned job), and how long
 * the sync thread waited for it.
 */
export function registerUpdateResolverMetrics(registry: Registry, resolver: UpdateResolver): void {
  new Gauge({
    name: 'synddb_validator_state_root_resolver_up',
    help: 'Whether the state root UPDATE resolver worker thread runs (0: UPDATEs are resolved on the sync thread)',
    registers: [registry],
    collect() {
      this.set(resolver.running ? 1 : 0);
    },
  });
  const counters: [string, string, () => number][] = [
    [
      'synddb_validator_state_root_resolver_changesets_total',
      'Changesets whose UPDATEs the resolver worker resolved for the state root',
      () => resolver.stats.slots,
    ],
    [
      'synddb_validator_state_root_resolver_fallbacks_total',
      'Groups whose UPDATEs the sync thread resolved itself after the worker failed or gave up',
      () => resolver.stats.fallbacks,
    ],
    [
      'synddb_validator_state_root_resolver_wait_seconds_total',
      'Time the sync thread waited for the resolver worker',
      () => resolver.stats.waitMs / 1000,
    ],
  ];
  for (const [name, help, value] of counters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  }
}
