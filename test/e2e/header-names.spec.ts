import { Controller, Get, type INestApplication, type Type } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleClasses, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** RFC 9651: an sf-string is printable ASCII in quotes, with `"` and `\` escaped. */
const SF_STRING = /^"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*"$/;

/** The header name mapping undone: the backslash escapes, then the percent-encoding. */
const decodeName = (quoted: string) => decodeURIComponent(quoted.slice(1, -1).replace(/\\(["\\])/g, '$1'));

/** Scopes are user text: each gets a route throttled under it. */
const NAMES: Record<string, string> = {
  unicode: '上传',
  accents: 'téléchargement',
  emoji: 'uploads 🚀',
  quotes: 'say "hi"',
  backslashes: 'C:\\uploads\\',
  spaces: ' a  b ',
  control: 'line\r\nbreak\u0000\u0007\u007f',
  percent: '100%',
};
const LONG = { ascii: `${'k'.repeat(1023)}!`, unicode: '上'.repeat(1024) };

function routeFor(path: string, scope: string): Type<unknown> {
  @Controller(path)
  @ThrottleClasses(UserThrottle.with({ scope, rate: '5/min' }))
  class NamedScopeController {
    @Get() get() { return 'ok'; }
  }
  return NamedScopeController;
}

describe.each(PLATFORMS)('any scope name is safe in a RateLimit header on %s', (platform: Platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    const clock = new FakeClock();
    const controllers = [...Object.entries(NAMES), ...Object.entries(LONG).map(([key, name]) => [`long-${key}`, name])].map(([path, name]) => routeFor(path, name));
    app = await startApp(platform, testModule({ options: { clock: clock.read }, controllers }));
  });
  afterAll(async () => {
    await app.close();
  });

  test.each(Object.keys(NAMES))('%s: the response arrives, with an sf-string name that decodes to the scope', async (path) => {
    const response = await request(app.getHttpServer()).get(`/${path}`);
    expect(response.status).toBe(200);
    expect(response.text).toBe('ok');
    const [name, ...params] = response.headers['ratelimit-policy'].split(';');
    expect(params).toEqual(['q=5', 'w=60']);
    expect(name).toMatch(SF_STRING);
    expect(decodeName(name)).toBe(NAMES[path]);
    expect(response.headers.ratelimit.startsWith(`${name};r=4;t=`)).toBe(true);
  });

  test.each(Object.keys(LONG))('a 1 KB %s name is shortened to at most 64 characters, the same on every response', async (key) => {
    const first = await request(app.getHttpServer()).get(`/long-${key}`);
    const second = await request(app.getHttpServer()).get(`/long-${key}`);
    expect([first.status, second.status]).toEqual([200, 200]);
    const [name] = first.headers['ratelimit-policy'].split(';');
    expect(name).toMatch(SF_STRING);
    expect(name.length).toBeLessThanOrEqual(66);
    expect(second.headers['ratelimit-policy']).toBe(first.headers['ratelimit-policy']);
    expect(second.headers.ratelimit.startsWith(`${name};r=3;t=`)).toBe(true);
  });

  test('a throttled response keeps its headers too', async () => {
    const server = app.getHttpServer();
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await request(server).get('/unicode');
      statuses.push(last.status);
    }
    // The route's first request came from the test above: 5/min lets four more through.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(last!.headers['ratelimit-policy']).toBe('"%E4%B8%8A%E4%BC%A0";q=5;w=60');
    expect(last!.headers['retry-after']).toBeDefined();
  });
});
