import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes';

const major = (version: string) => Number(version.replace(/^[^0-9]*/, '').split('.')[0]);

describe('native dependencies', () => {
  // better-sqlite3 <= 12 is built on node::ObjectWrap; on Node >= 24.19 its Statement finalizer
  // aborts the process (`(env) != nullptr` in RemoveEnvironmentCleanupHook, nodejs/node#65446).
  it('resolve better-sqlite3 >= 13 (Node-API) everywhere: lockfile, every range, every install', () => {
    const lock = readFileSync(join(ROOT, 'pnpm-lock.yaml'), 'utf8');
    const locked = [...lock.matchAll(/^ {2}'?better-sqlite3@([0-9][^:']*)'?:$/gm)].map(
      (m) => m[1]!,
    );
    expect(locked.length).toBeGreaterThan(0);
    for (const version of locked)
      expect(major(version), `lockfile ${version}`).toBeGreaterThanOrEqual(13);

    for (const group of ['packages', 'apps', 'tests']) {
      for (const entry of readdirSync(join(ROOT, group))) {
        const manifestPath = join(ROOT, group, entry, 'package.json');
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<
          string,
          Record<string, string> | undefined
        >;
        for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
          for (const [name, range] of Object.entries(manifest[field] ?? {})) {
            if (!range.includes('better-sqlite3') && name !== 'better-sqlite3') continue;
            for (const alternative of range.split('||')) {
              expect(
                major(alternative.trim().replace(/^npm:better-sqlite3@/, '')),
                `${manifest.name} ${field} ${name}@${range}`,
              ).toBeGreaterThanOrEqual(13);
            }
            const installed = createRequire(manifestPath)(`${name}/package.json`) as {
              version: string;
            };
            expect(
              major(installed.version),
              `${group}/${entry} resolves ${name}`,
            ).toBeGreaterThanOrEqual(13);
          }
        }
      }
    }
  });
});
