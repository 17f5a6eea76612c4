// Our package version, for DerivationDescription and SoftwareVersions. Read from package.json
// whether running from src/ (tsx) or from dist/src/ (compiled).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'interslice' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
}

export const PACKAGE_VERSION: string = readVersion();
