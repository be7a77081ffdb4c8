import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isRunning } from './packed-package.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const ROOT_TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** Installs of a fixture's earlier locks are removed once unused this long (other checkouts on this machine may still use them). */
const KEEP_UNUSED_MS = 24 * 60 * 60 * 1000;

/** The tests an app's own Jest ran, by full name. */
export interface JestRun {
  readonly passed: readonly string[];
}

/**
 * A consumer app under test/compat/<name>, with a package.json of its own, installed and run in the
 * system's temporary directory (outside any node_modules folder: Jest ignores test files below one).
 *
 * - With a package-lock.json too (another Nest major than this repo's), its dependencies are
 *   installed once per lock, outside this repo, so that nothing the fixture lacks can be found in
 *   this repo's node_modules instead.
 * - Without one, it uses this repo's own node_modules (Nest 12, Jest 30) through a symlink.
 *
 * Each run installs the packed package (packed-package.ts) with npm into a run directory below, so
 * the app resolves Nest from above and nestjs-throttling from the run.
 */
export class ConsumerProject {
  readonly fixture: string;
  private readonly install: string;
  readonly runDir: string;

  private readonly ownDependencies: boolean;
  private jestRuns = 0;

  constructor(name: string, runId: string) {
    this.fixture = join(ROOT, 'test', 'compat', name);
    const lock = join(this.fixture, 'package-lock.json');
    this.ownDependencies = existsSync(lock);
    const suffix = this.ownDependencies ? createHash('sha256').update(readFileSync(lock)).digest('hex').slice(0, 16) : `repo-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}`;
    this.install = join(tmpdir(), 'nestjs-throttling-compat', `${name}-${suffix}`);
    this.runDir = join(this.install, 'runs', runId);
  }

  /**
   * Installs the fixture's dependencies unless a previous run did. Resolves to null when done, or to
   * the reason it could not (the registry unreachable, say), for the caller to skip or fail on.
   */
  async installDependencies(): Promise<string | null> {
    if (!this.ownDependencies) return this.linkRepoModules();
    if (existsSync(join(this.install, 'node_modules', '.package-lock.json'))) return this.markUsed();
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
    return this.markUsed();
  }

  /** The install of a fixture without a lock: a node_modules symlink to this repo's. */
  private linkRepoModules(): null {
    const modules = join(this.install, 'node_modules');
    mkdirSync(this.install, { recursive: true });
    try {
      symlinkSync(join(ROOT, 'node_modules'), modules, 'dir');
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
    return null;
  }

  /** Stamps the install as used now, for removeOutdatedInstalls() of runs with another lock. */
  private markUsed(): null {
    const now = new Date();
    utimesSync(this.install, now, now);
    return null;
  }

  /**
   * Installs of this fixture's other locks that no run used for a day (older checkouts, other
   * worktrees on this machine), and staging folders of runs that were killed.
   */
  private removeOutdatedInstalls(): void {
    const parent = dirname(this.install);
    const prefix = `${basename(this.install).replace(/-[0-9a-f]{16}$/, '')}-`;
    for (const entry of readdirSync(parent)) {
      if (!entry.startsWith(prefix) || entry === basename(this.install)) continue;
      const rest = entry.slice(prefix.length);
      const staging = /\.staging-(\d+)$/.exec(rest);
      const path = join(parent, entry);
      if ((/^[0-9a-f]{16}$/.test(rest) && Date.now() - statSync(path).mtimeMs > KEEP_UNUSED_MS) || (staging !== null && !isRunning(Number(staging[1])))) {
        rmSync(path, { recursive: true, force: true });
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
   * Installs the packed package into the run directory with npm, as an app installs it from the
   * registry: its dependencies with it, its peers (Nest) left to the app.
   */
  async installPackage(tarball: string): Promise<void> {
    mkdirSync(this.runDir, { recursive: true });
    // A manifest of the run's own for the install (compileApp() puts the app's in its place): with
    // the app's, npm would install all of the app's dependencies here too.
    writeFileSync(join(this.runDir, 'package.json'), JSON.stringify({ name: 'compat-run', private: true }));
    const flags = ['--no-save', '--no-package-lock', '--legacy-peer-deps', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'];
    await run('npm', ['install', tarball, ...flags], { cwd: this.runDir, timeout: 120_000 });
  }

  /** Copies the fixture into the run and compiles its src/ with its own tsconfig.json; rejects with tsc's diagnostics. */
  async compileApp(): Promise<void> {
    // package.json too: its "type" decides whether the compiled app is CommonJS or ESM; test/ and
    // package.json's `jest` are for runJest().
    for (const entry of readdirSync(this.fixture)) {
      if (entry !== 'package-lock.json' && entry !== 'node_modules') cpSync(join(this.fixture, entry), join(this.runDir, entry), { recursive: true });
    }
    try {
      await run(process.execPath, [this.tsc, '-p', join(this.runDir, 'tsconfig.json')], { cwd: this.runDir, timeout: 120_000 });
    } catch (error) {
      throw new Error(`the consumer app does not compile against the installed package:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
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

  /**
   * Runs the app's own Jest (`jest` with `args`) in the run directory, as `npx jest` there would,
   * with this process's environment less what this repo's Jest set (NODE_OPTIONS among it), plus
   * `env`. Rejects with Jest's output when a test fails.
   */
  async runJest(args: readonly string[], env: Record<string, string> = {}): Promise<JestRun> {
    const jest = join(this.install, 'node_modules', 'jest', 'bin', 'jest.js');
    const report = join(this.runDir, `jest-run-${++this.jestRuns}.json`);
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('JEST_')));
    try {
      await run(process.execPath, [jest, ...args, '--ci', '--no-watchman', '--json', `--outputFile=${report}`], { cwd: this.runDir, env: { ...inherited, ...env }, timeout: 180_000 });
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`the app's own \`jest ${args.join(' ')}\` failed:\n${stderr || String(error)}`);
    }
    const { testResults } = JSON.parse(readFileSync(report, 'utf8')) as { testResults: { assertionResults: { fullName: string; status: string }[] }[] };
    return { passed: testResults.flatMap((file) => file.assertionResults.filter((test) => test.status === 'passed').map((test) => test.fullName)) };
  }

  /** Installs the packed package, compiles the app against it and runs it: what the app printed. */
  async installAndRun(tarball: string): Promise<unknown> {
    await this.installPackage(tarball);
    await this.compileApp();
    return this.runApp();
  }

  /** Removes this run's directory; the installed dependencies stay for the next run. */
  cleanUp(): void {
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
