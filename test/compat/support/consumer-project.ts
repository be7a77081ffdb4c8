import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = process.cwd();
const ROOT_TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * A consumer app under test/compat/<name>, with a package.json of its own.
 *
 * - With a package-lock.json too (another Nest major than this repo's), its dependencies are
 *   installed once per lock in the system's temporary directory, outside this repo, so that nothing
 *   the fixture lacks can be found in this repo's node_modules instead.
 * - Without one, it uses this repo's own node_modules (Nest 12), from node_modules/.cache.
 *
 * Each run builds this library into a run directory below, with its own dependencies as npm would
 * install them, so the app resolves Nest from above and nestjs-throttling from the run.
 */
export class ConsumerProject {
  readonly fixture: string;
  private readonly install: string;
  readonly runDir: string;

  private readonly ownDependencies: boolean;

  constructor(name: string, runId: string) {
    this.fixture = join(ROOT, 'test', 'compat', name);
    const lock = join(this.fixture, 'package-lock.json');
    this.ownDependencies = existsSync(lock);
    const lockHash = this.ownDependencies ? `-${createHash('sha256').update(readFileSync(lock)).digest('hex').slice(0, 16)}` : '';
    this.install = this.ownDependencies
      ? join(tmpdir(), 'nestjs-throttling-compat', `${name}${lockHash}`)
      : join(ROOT, 'node_modules', '.cache', 'nestjs-throttling-compat', name);
    this.runDir = join(this.install, 'runs', runId);
  }

  /**
   * Installs the fixture's dependencies unless a previous run did. Resolves to null when done, or to
   * the reason it could not (the registry unreachable, say), for the caller to skip or fail on.
   */
  async installDependencies(): Promise<string | null> {
    if (!this.ownDependencies || existsSync(join(this.install, 'node_modules', '.package-lock.json'))) return null;
    // Installed aside, then renamed into place, so a run that is killed midway leaves no half install.
    const staging = `${this.install}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(this.fixture, file), join(staging, file));
    try {
      await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: staging, timeout: 240_000 });
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      const { stderr, message } = error as { stderr?: string; message: string };
      const firstError = (stderr ?? message).split('\n').find((line) => /npm (error|ERR!)/.test(line)) ?? message.split('\n')[0];
      return `npm ci of test/compat fixture failed: ${firstError.trim()}`;
    }
    try {
      renameSync(staging, this.install);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      // Another run installed it first: use that one. Anything else is a real failure.
      if (!existsSync(join(this.install, 'node_modules', '.package-lock.json'))) throw error;
    }
    this.removeOutdatedInstalls();
    return null;
  }

  /**
   * Installs of this fixture's earlier locks, and staging folders of runs that were killed: nothing
   * uses them any more. (A run of an older checkout going on at the same time would lose its install
   * and fail; that is the price of not keeping every lock's install for ever.)
   */
  private removeOutdatedInstalls(): void {
    const parent = dirname(this.install);
    const prefix = `${basename(this.install).replace(/-[0-9a-f]{16}$/, '')}-`;
    for (const entry of readdirSync(parent)) {
      if (!entry.startsWith(prefix) || entry === basename(this.install)) continue;
      const rest = entry.slice(prefix.length);
      const staging = /\.staging-(\d+)$/.exec(rest);
      if (/^[0-9a-f]{16}$/.test(rest) || (staging !== null && !isRunning(Number(staging[1])))) {
        rmSync(join(parent, entry), { recursive: true, force: true });
      }
    }
  }

  /** The fixture's own TypeScript when it has one (as an app pins its own), else this repo's. */
  private get tsc(): string {
    const own = join(this.install, 'node_modules', 'typescript', 'bin', 'tsc');
    return this.ownDependencies && existsSync(own) ? own : ROOT_TSC;
  }

  /** Type-checks the compiled run's sources with another of the fixture's tsconfig files. */
  async typecheck(tsconfig: string): Promise<void> {
    cpSync(join(this.fixture, tsconfig), join(this.runDir, tsconfig));
    try {
      await run(process.execPath, [this.tsc, '-p', join(this.runDir, tsconfig)], { cwd: this.runDir, timeout: 120_000 });
    } catch (error) {
      throw new Error(`the consumer app does not type-check with ${tsconfig}:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
  }

  /**
   * Builds this library as its package would hold it (package.json and dist/) into the run directory,
   * with its own dependencies below it, as npm installs them (none of them may come from elsewhere).
   */
  async buildLibrary(): Promise<void> {
    const pkg = join(this.runDir, 'node_modules', 'nestjs-throttling');
    mkdirSync(pkg, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    if (this.ownDependencies && manifest.dependencies !== undefined) {
      // A manifest of the dependencies alone: npm would otherwise resolve every devDependency too.
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'nestjs-throttling-dependencies', private: true, dependencies: manifest.dependencies }));
      await run('npm', ['install', '--prefer-offline', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: pkg, timeout: 120_000 });
    }
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    // The library is built with this repo's own TypeScript, as its published package would be.
    await run(process.execPath, [ROOT_TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: ROOT, timeout: 120_000 });
  }

  /** Compiles the fixture's src/ with its own tsconfig.json; rejects with tsc's diagnostics. */
  async compileApp(): Promise<void> {
    // package.json too: its "type" decides whether the compiled app is CommonJS or ESM.
    for (const entry of ['package.json', 'tsconfig.json', 'src']) cpSync(join(this.fixture, entry), join(this.runDir, entry), { recursive: true });
    try {
      await run(process.execPath, [this.tsc, '-p', join(this.runDir, 'tsconfig.json')], { cwd: this.runDir, timeout: 120_000 });
    } catch (error) {
      throw new Error(`the consumer app does not compile against the built package:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
  }

  /** Runs the compiled app (dist/main.js) and parses the JSON line it prints. */
  async runApp(): Promise<unknown> {
    try {
      const { stdout } = await run(process.execPath, [join(this.runDir, 'dist', 'main.js')], { cwd: this.runDir, timeout: 60_000 });
      return JSON.parse(stdout.trim().split('\n').pop() ?? '');
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`the consumer app failed:\n${stderr || String(error)}`);
    }
  }

  /** Builds the package, compiles the app against it and runs it: what the app printed. */
  async buildAndRun(): Promise<unknown> {
    await this.buildLibrary();
    await this.compileApp();
    return this.runApp();
  }

  /** Removes this run's directory; the installed dependencies stay for the next run. */
  cleanUp(): void {
    rmSync(this.runDir, { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as { code?: string }).code === 'EPERM';
  }
}
