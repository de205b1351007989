import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createValidatorMetrics } from './create-validator-metrics';

interface Target {
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../dashboards/synddb-validator.json', import.meta.url), 'utf8'),
) as Dashboard;
/** Grafana's datasource variable reference (not a JS template). */
const DATASOURCE_UID = ['$', '{datasource}'].join('');
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** Metric names in a PromQL expression (the validator's prefixes only). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:synddb|axum)_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('Grafana dashboard', () => {
  it('references only metrics the validator registers, with the right types', async () => {
    const registry = createValidatorMetrics().registry;
    const types = new Map(
      (await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)] as const),
    );
    const used = new Set<string>();
    for (const expr of exprs) {
      const names = metricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        const histogramPart = /_(bucket|count|sum)$/.exec(name);
        const base = histogramPart && !types.has(name) ? name.slice(0, histogramPart.index) : name;
        expect(types.has(base), `${name} in ${expr}`).toBe(true);
        if (histogramPart && base !== name) expect(types.get(base), name).toBe('histogram');
        if (/histogram_quantile/.test(expr) && name.endsWith('_bucket')) {
          expect(types.get(base)).toBe('histogram');
        }
        used.add(base);
      }
    }
    // the panels the dashboard promises
    for (const name of [
      'synddb_sync_lag_sequences',
      'synddb_messages_applied_total',
      'synddb_sync_halts_total',
      'synddb_signature_verification_failures_total',
      'synddb_batch_fetch_duration_seconds',
      'synddb_batch_verify_duration_seconds',
      'synddb_apply_duration_seconds',
      'synddb_query_latency_seconds',
      'axum_http_requests_total',
      'synddb_ws_clients',
      'synddb_ws_clients_dropped_total',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
    expect(
      exprs.some((e) => e.includes('histogram_quantile(0.99') && e.includes('query_latency')),
    ).toBe(true);
    expect(
      exprs.some((e) => e.includes('histogram_quantile(0.5') && e.includes('query_latency')),
    ).toBe(true);
  });

  it('is a well-formed dashboard on a Prometheus datasource variable', () => {
    expect(dashboard.uid).toBe('synddb-validator');
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.w).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource.uid).toBe(DATASOURCE_UID);
        let depth = 0;
        for (const ch of target.expr) {
          if (ch === '(') depth++;
          if (ch === ')') depth--;
          expect(depth).toBeGreaterThanOrEqual(0);
        }
        expect(depth, target.expr).toBe(0);
        expect(target.expr).toContain('instance=~"$instance"');
      }
    }
  });
});
