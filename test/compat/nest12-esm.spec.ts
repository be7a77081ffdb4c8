import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RUN_ID } from '../support/services.js';
import { ConsumerProject } from './support/consumer-project.js';

// A Nest 12 app in ESM (test/compat/nest12-esm), built against this library's package and run as
// a user would run it, with this repo's own Nest 12 packages.
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
  express: HttpReport;
  fastify: HttpReport;
  socketIo: { first: unknown; exceptions: unknown[]; warnings: string[] };
}

describe('a Nest 12 ESM app uses the package', () => {
  let report: Report;

  beforeAll(async () => {
    report = (await project.buildAndRun()) as Report;
  }, 300_000);

  afterAll(() => project.cleanUp());

  test('it runs on Nest 12 and imports the library as an ES module', () => {
    expect(report.nestCore).toMatch(/^12\./);
    expect(report.loadedBy).toBe('esm');
  });

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
