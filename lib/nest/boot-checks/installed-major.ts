import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** This package's name, to find the copy of it the app loads. */
const OWN_NAME = 'nestjs-throttling';

/**
 * The major version of an installed package, from its package.json; undefined when not found.
 * Looked up from the app's working directory and from this library's own install as the app
 * resolves it: with a linked or duplicated install the two can differ, and then the lower major is
 * the one to be careful about. Both start from process.cwd(), not from this module's own URL,
 * which neither the CommonJS build nor Jest's CommonJS runtime can give.
 */
export function installedMajor(name: string): number | undefined {
  const app = join(process.cwd(), 'package.json');
  const library = resolveFrom(app, OWN_NAME);
  const majors = [majorFrom(app, name), library === undefined ? undefined : majorFrom(library, name)].filter((major) => major !== undefined);
  return majors.length === 0 ? undefined : Math.min(...majors);
}

/** The entry file `name` resolves to from the file `base`, or undefined. */
function resolveFrom(base: string, name: string): string | undefined {
  try {
    return createRequire(base).resolve(name);
  } catch {
    return undefined;
  }
}

function majorFrom(base: string, name: string): number | undefined {
  const entry = resolveFrom(base, name);
  if (entry === undefined) return undefined;
  // From the entry file up to the package root (the entry may sit in a subfolder such as dist/).
  let directory = dirname(entry);
  for (let depth = 0; depth < 4; depth++, directory = dirname(directory)) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === name) return Number.parseInt(manifest.version ?? '', 10) || undefined;
    } catch {
      // No package.json at this level: keep climbing.
    }
  }
  return undefined;
}
