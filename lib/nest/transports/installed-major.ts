import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The major version of an installed package, from its package.json; undefined when not found.
 * Looked up from this library and from the app's working directory: with a linked or duplicated
 * install the two can differ, and then the lower major is the one to be careful about.
 */
export function installedMajor(name: string): number | undefined {
  const majors = [majorFrom(import.meta.url, name), majorFrom(join(process.cwd(), 'package.json'), name)].filter((major) => major !== undefined);
  return majors.length === 0 ? undefined : Math.min(...majors);
}

function majorFrom(base: string, name: string): number | undefined {
  let directory: string;
  try {
    directory = dirname(createRequire(base).resolve(name));
  } catch {
    return undefined;
  }
  // From the entry file up to the package root (the entry may sit in a subfolder such as dist/).
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
