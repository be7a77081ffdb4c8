import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = process.cwd();
const CACHE = join(tmpdir(), 'nestjs-throttling-pack');
/** Packs of other contents (other checkouts on this machine among them) are removed once unused this long. */
const KEEP_UNUSED_MS = 24 * 60 * 60 * 1000;

/** This repo as `npm pack` packs it for publishing. */
export interface PackedPackage {
  /** The .tgz file. */
  readonly tarball: string;
  /** The paths inside it, as `npm pack --json` lists them (without the `package/` prefix). */
  readonly files: readonly string[];
}

/**
 * This repo packed by `npm pack`, from a checkout as `git clone` leaves it (the files git tracks or
 * would track, without dist/, which .gitignore keeps out): the package must build itself (prepack).
 *
 * Packing builds the library twice (ESM and CommonJS), so the result is kept in the system's
 * temporary directory under a hash of those files' contents: every compat spec of a run, and the
 * next run while nothing changed, share one pack. Concurrent callers wait for the one that packs.
 */
export async function packedPackage(): Promise<PackedPackage> {
  const sources = checkoutFiles(await gitFiles());
  const hash = createHash('sha256');
  for (const path of sources) hash.update(`${path}\0`).update(readFileSync(join(ROOT, path))).update('\0');
  const dir = join(CACHE, hash.digest('hex').slice(0, 16));
  mkdirSync(CACHE, { recursive: true });
  removeUnusedPacks(dir);
  for (;;) {
    const packed = readPacked(dir);
    if (packed !== undefined) return packed;
    const lock = `${dir}.lock`;
    if (takeLock(lock)) {
      try {
        await pack(sources, dir);
      } finally {
        rmSync(lock, { force: true });
      }
    } else {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function gitFiles(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  return stdout.split('\0').filter((path) => path.length > 0);
}

/** The regular files among git's list, sorted: a tracked file deleted in the working tree is left out. */
function checkoutFiles(paths: readonly string[]): string[] {
  return paths.filter((path) => existsSync(join(ROOT, path)) && lstatSync(join(ROOT, path)).isFile()).sort();
}

function readPacked(dir: string): PackedPackage | undefined {
  const listing = join(dir, 'files.json');
  if (!existsSync(listing)) return undefined;
  // Marks the pack as used, for removeUnusedPacks() of other runs.
  const now = new Date();
  utimesSync(dir, now, now);
  const { tarball, files } = JSON.parse(readFileSync(listing, 'utf8')) as { tarball: string; files: string[] };
  return { tarball: join(dir, tarball), files };
}

/** Creates the lock file, or removes it when the process that holds it is gone; true when taken. */
function takeLock(lock: string): boolean {
  try {
    closeSync(openSync(lock, 'wx'));
    writeFileSync(lock, String(process.pid));
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    const holder = Number(readFileSync(lock, 'utf8'));
    // An empty file: the holder is between creating and writing it.
    if (holder > 0 && !isRunning(holder)) rmSync(lock, { force: true });
    return false;
  }
}

/** Copies the checkout aside, packs it there (prepack builds it) and moves the result into `dir`. */
async function pack(sources: readonly string[], dir: string): Promise<void> {
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const checkout = join(staging, 'checkout');
  const result = join(staging, 'result');
  try {
    for (const path of sources) {
      mkdirSync(join(checkout, dirname(path)), { recursive: true });
      writeFileSync(join(checkout, path), readFileSync(join(ROOT, path)));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    mkdirSync(result, { recursive: true });
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', result], { cwd: checkout, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    writeFileSync(join(result, 'files.json'), JSON.stringify({ tarball: packed.filename, files: packed.files.map((file) => file.path) }));
    renameSync(result, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function removeUnusedPacks(current: string): void {
  const now = Date.now();
  for (const entry of readdirSync(CACHE)) {
    const path = join(CACHE, entry);
    if (path === current || path.startsWith(`${current}.`)) continue;
    try {
      if (now - statSync(path).mtimeMs > KEEP_UNUSED_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another run meanwhile.
    }
  }
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as { code?: string }).code === 'EPERM';
  }
}
