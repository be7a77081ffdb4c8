// Adds lock entries for platform-specific optional packages that this machine's registry does not
// serve (e.g. unrs-resolver's Windows/macOS/Android bindings, a dependency of Jest 30). Without an
// entry, `npm ci` refuses the lock ("Missing: ... from lock file") although such a package would
// never be installed on Linux x64 anyway. Each entry carries its os/cpu, so npm skips it here.
// Run after `npm install` changes the lock: node scripts/lock-foreign-platform-entries.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

/** os, cpu and libc from a binding's name such as `...-linux-arm-musleabihf` or `...-win32-x64-msvc`. */
function platformOf(name) {
  const os = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32'].find((candidate) => name.includes(`-${candidate}-`));
  const cpu = ['arm64', 'arm', 'x64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x'].find((candidate) => new RegExp(`-${os}-${candidate}(-|$)`).test(name));
  if (os === undefined || cpu === undefined) return undefined;
  const libc = os === 'linux' ? (/musl/.test(name) ? ['musl'] : /gnu/.test(name) ? ['glibc'] : undefined) : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const location = `node_modules/${name}`;
    if (packages[location] !== undefined || packages[`${path}/${location}`] !== undefined) continue;
    const platform = platformOf(name);
    if (platform === undefined) continue;
    const base = name.split('/').pop();
    packages[location] = {
      version,
      resolved: `https://registry.npmjs.org/${name}/-/${base}-${version}.tgz`,
      ...platform,
      optional: true,
    };
    added++;
  }
}
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-foreign-platform-entries: added ${added} entr${added === 1 ? 'y' : 'ies'}`);
