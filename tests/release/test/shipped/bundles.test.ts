import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Every workspace package that ships a `dist/`, with the files in it. */
function builtPackages(): { name: string; dir: string; files: string[] }[] {
  const out: { name: string; dir: string; files: string[] }[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(root, group))) {
      const dir = join(root, group, entry);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
      };
      const dist = join(dir, 'dist');
      const files = readdirSync(dist, { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.(c|m)?js$/.test(f))
        .filter((f) => statSync(join(dist, f)).isFile())
        .map((f) => join(dist, f));
      out.push({ name: manifest.name, dir, files });
    }
  }
  return out;
}

/** Module specifiers of static imports, dynamic imports and requires in a bundle. */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
    /^\s*import\s*["']([^"']+)["']/gm,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]!);
  return found;
}

// Builtins that exist only with the `node:` prefix (`sqlite`, `test`, `sea`, ...): a bundler
// that strips the prefix turns them into a package lookup that fails at run time.
const prefixOnly = new Set(
  builtinModules.filter((m) => m.startsWith('node:')).map((m) => m.slice('node:'.length)),
);

describe('built bundles', () => {
  const packages = builtPackages();

  it('exist for every package', () => {
    expect(packages.length).toBeGreaterThanOrEqual(10);
    for (const p of packages) expect(p.files.length, p.name).toBeGreaterThan(0);
  });

  it('never import a prefix-only builtin without its node: prefix', () => {
    expect(prefixOnly.has('sqlite')).toBe(true);
    const offenders: string[] = [];
    for (const p of packages) {
      for (const file of p.files) {
        for (const spec of specifiers(readFileSync(file, 'utf8'))) {
          if (prefixOnly.has(spec)) offenders.push(`${relative(root, file)}: "${spec}"`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('load every export of every package, as ESM and as CommonJS', async () => {
    for (const p of packages) {
      const manifest = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
        exports: Record<
          string,
          string | { import?: { default: string }; require?: { default: string } }
        >;
      };
      const require = createRequire(join(p.dir, 'package.json'));
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (typeof target === 'string') continue;
        if (target.import) {
          const mod = (await import(
            pathToFileURL(join(p.dir, target.import.default)).href
          )) as object;
          expect(Object.keys(mod).length, `${p.name}${subpath.slice(1)} (esm)`).toBeGreaterThan(0);
        }
        if (target.require) {
          const mod = require(join(p.dir, target.require.default)) as object;
          expect(Object.keys(mod).length, `${p.name}${subpath.slice(1)} (cjs)`).toBeGreaterThan(0);
        }
      }
    }
  });
});
