/**
 * The sample's GraphQL endpoint and socket.io chat, booted with the sample's AppModule on Express
 * and driven by real clients.
 */
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import { startApp } from '../support/http-app.js';

import { AppModule } from '../../sample/app.module.js';

describe('the sample GraphQL endpoint and chat gateway', () => {
  let app: INestApplication;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    app = await startApp('express', AppModule);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await app?.close();
  });

  const gql = (query: string, user?: string) => {
    const call = request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json');
    return (user === undefined ? call : call.set('authorization', `Bearer ${user}`)).send({ query });
  };

  async function chat(user?: string): Promise<Socket> {
    const { port } = app.getHttpServer().address() as AddressInfo;
    const socket = io(`http://127.0.0.1:${port}/chat`, { transports: ['websocket'], auth: user === undefined ? {} : { token: `Bearer ${user}` }, reconnection: false });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  const emit = (socket: Socket, event: string, data: unknown) =>
    new Promise<{ ok?: unknown; exception?: any }>((resolve) => {
      const onException = (exception: unknown) => resolve({ exception });
      socket.once('exception', onException);
      socket.emit(event, data, (ok: unknown) => {
        socket.off('exception', onException);
        resolve({ ok });
      });
    });

  test('GraphQL: a signed-in user is counted by id, and the RateLimit header comes back', async () => {
    const res = await gql('{ notes { id text length } }', 'grace').expect(200);
    expect(res.body.data.notes[0]).toEqual({ id: '1', text: 'Call Ada about the engine', length: 25 });
    expect(res.headers['ratelimit']).toBe('"user";r=59;t=60');
  });

  test('GraphQL: the sixth import in a minute is throttled with TOO_MANY_REQUESTS and retryAfter', async () => {
    for (let i = 0; i < 5; i++) expect((await gql(`mutation { importNotes(texts: ["n${i}"]) }`, 'heidi')).body.errors).toBeUndefined();
    const res = await gql('mutation { importNotes(texts: ["late"]) }', 'heidi');
    // The sample runs on the real clock: the wait is the minute less the time the five imports took.
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: expect.any(Number) });
    const { retryAfter } = res.body.errors[0].extensions;
    expect(retryAfter).toBeGreaterThanOrEqual(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers['retry-after']).toBe(String(retryAfter));
  });

  test('chat: the eleventh shout in a minute gets the exception event with retryAfter; typing is never throttled', async () => {
    const ivan = await chat('ivan');
    for (let i = 0; i < 10; i++) expect(await emit(ivan, 'shout', 'hi')).toEqual({ ok: { shouted: 'HI' } });
    const { exception } = await emit(ivan, 'shout', 'hi');
    // The real clock again: the minute less the time the ten shouts took.
    expect(exception.retryAfter).toBeGreaterThanOrEqual(55);
    expect(exception.retryAfter).toBeLessThanOrEqual(60);
    expect(exception).toEqual({ status: 'error', message: `Request was throttled. Expected available in ${exception.retryAfter} seconds.`, retryAfter: exception.retryAfter });
    for (let i = 0; i < 30; i++) expect(await emit(ivan, 'typing', null)).toEqual({ ok: { ok: true } });
    // Another user shouts freely.
    expect(await emit(await chat('judy'), 'shout', 'hey')).toEqual({ ok: { shouted: 'HEY' } });
  });
});
