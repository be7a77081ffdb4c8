import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RUN_ID } from '../support/services.js';
import { ConsumerProject } from './support/consumer-project.js';
import { packedPackage } from './support/packed-package.js';

// A Nest 12 app in ESM (test/compat/nest12-esm) with this library installed from its packed
// tarball, run and tested (Jest in ESM mode) as a user would, with this repo's own Nest 12 and Jest.
const project = new ConsumerProject('nest12-esm', RUN_ID);

interface HttpReport {
  policy: string | null;
  limited: number[];
  off: number[];
  tier: number[];
}
interface Report {
  nestCore: string;
  loadedBy: string;
  libraryEntry: string;
  express: HttpReport;
  fastify: HttpReport;
  socketIo: { first: unknown; exceptions: unknown[]; warnings: string[] };
}

describe('a Nest 12 ESM app uses the package', () => {
  let report: Report;

  beforeAll(async () => {
    await project.installDependencies();
    report = (await project.installAndRun((await packedPackage()).tarball)) as Report;
  }, 400_000);

  afterAll(() => project.cleanUp());

  test('it runs on Nest 12 and imports the ES module build', () => {
    expect(report.nestCore).toMatch(/^12\./);
    expect(report.loadedBy).toBe('esm');
    expect(report.libraryEntry).toBe('dist/esm/index.js');
  });

  test("the app's own Jest in ESM mode (--experimental-vm-modules, ts-jest useESM) passes its e2e spec", async () => {
    const { passed } = await project.runJest([], { NODE_OPTIONS: '--experimental-vm-modules' });
    expect(passed).toEqual([
      'AppController (e2e) / (GET) answers three times a minute, then 429 with Retry-After',
      'AppController (e2e) loads the ES module build of nestjs-throttling',
    ]);
  }, 200_000);

  test.each(['express', 'fastify'] as const)('on %s: default throttles, throttling off, and a DI throttle behave as documented', (adapter) => {
    const seen = report[adapter];
    expect(seen.policy).toBe('"anon";q=3;w=60');
    expect(seen.limited).toEqual([200, 200, 429]);
    expect(seen.off).toEqual([200, 200, 200, 200, 200]);
    expect(seen.tier).toEqual([200, 200, 429]);
  });

  test('a gateway that binds nothing is throttled by the global guard, and no warning is logged', () => {
    expect(report.socketIo.first).toEqual({ shouted: 'HI' });
    expect(report.socketIo.exceptions).toEqual([{ status: 'error', message: 'Request was throttled. Expected available in 60 seconds.', retryAfter: 60 }]);
    expect(report.socketIo.warnings).toEqual([]);
  });
});
