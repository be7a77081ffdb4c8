/** A socket, or anything else whose writes can be held back and released together (net.Socket, TLSSocket). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Holds back a client's socket writes from its first command in an event-loop turn until that turn's
 * setImmediate, so the commands of every request handled in the turn leave in one write.
 *
 * Why: ioredis writes each command to its socket at once, one system call per command, and each of
 * those writes also costs Redis one read. Under load one turn handles many requests (their sockets
 * became readable together); sending their EVALSHAs in one write saves a system call per command here
 * and a read event per command in Redis (bench/RESULTS.md measures both sides). node-redis already
 * batches its writes this way (setImmediate and cork), so only ioredis and iovalkey clients need it.
 *
 * Each request still sends exactly one command, and none waits longer than the rest of the current
 * turn: setImmediate callbacks run right after the turn's I/O callbacks, and while one is pending the
 * loop does not sleep waiting for I/O.
 */
export class TurnWriteCoalescer {
  /** The sockets corked in this turn; null when nothing is held. */
  private held: Corkable[] | null = null;

  /** `sockets` lists the client's current sockets (they change when it reconnects): read once per turn. */
  constructor(private readonly sockets: () => Iterable<Corkable | null | undefined>) {}

  /** Call before handing a command to the client. */
  beforeWrite(): void {
    if (this.held !== null) return;
    const held: Corkable[] = [];
    for (const socket of this.sockets()) {
      // A client still connecting has no socket yet: it queues the command and writes it on connect.
      if (socket === null || socket === undefined || typeof socket.cork !== 'function') continue;
      socket.cork();
      held.push(socket);
    }
    this.held = held;
    setImmediate(this.release);
  }

  /** Uncorks exactly what this turn corked (a socket replaced meanwhile is released all the same). */
  private readonly release = (): void => {
    const held = this.held;
    this.held = null;
    if (held !== null) for (const socket of held) socket.uncork();
  };
}
