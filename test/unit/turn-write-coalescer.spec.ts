import { describe, expect, test } from '@jest/globals';
import { type Corkable, TurnWriteCoalescer } from '../../lib/stores/redis/turn-write-coalescer.js';

/** A socket stand-in that records its cork depth, as net.Socket keeps it (writableCorked). */
class CountingSocket implements Corkable {
  corked = 0;
  corks = 0;
  cork(): void {
    this.corked++;
    this.corks++;
  }
  uncork(): void {
    this.corked--;
  }
}

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnWriteCoalescer', () => {
  test('corks once at the first write of a turn and uncorks in that turn’s setImmediate', async () => {
    const socket = new CountingSocket();
    const coalescer = new TurnWriteCoalescer(() => [socket]);
    for (let i = 0; i < 25; i++) coalescer.beforeWrite();
    expect(socket.corked).toBe(1);
    expect(socket.corks).toBe(1);
    await nextImmediate();
    expect(socket.corked).toBe(0);
    // The next turn corks again.
    coalescer.beforeWrite();
    expect(socket.corks).toBe(2);
    await nextImmediate();
    expect(socket.corked).toBe(0);
  });

  test('releases the socket it corked even when the client has replaced it meanwhile (a reconnect)', async () => {
    const first = new CountingSocket();
    const second = new CountingSocket();
    let current = first;
    const coalescer = new TurnWriteCoalescer(() => [current]);
    coalescer.beforeWrite();
    current = second;
    coalescer.beforeWrite();
    await nextImmediate();
    expect(first.corked).toBe(0);
    expect(second.corks).toBe(0);
  });

  test('skips a client that has no socket yet (still connecting) and every socket of a Cluster is held', async () => {
    const nodes = [new CountingSocket(), new CountingSocket()];
    const coalescer = new TurnWriteCoalescer(() => [undefined, ...nodes, null]);
    coalescer.beforeWrite();
    expect(nodes.map((node) => node.corked)).toEqual([1, 1]);
    await nextImmediate();
    expect(nodes.map((node) => node.corked)).toEqual([0, 0]);
  });
});
