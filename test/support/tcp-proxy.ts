import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy a test can cut and restore, to make a service look stopped (connections
 * refused, open ones dropped) without touching the real server other tests share. It can also
 * freeze (a partition: connections stay open, nothing passes) and lose the reply to a request.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private frozen = false;
  private replyLoss: { pattern: string; remaining: number } | undefined;
  port = 0;
  /** How many replies loseRepliesTo() has dropped so far. */
  repliesLost = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts listening (on the previous port after a cut, so clients reconnect to the same URL). */
  async start(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.target);
      const destroyBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', destroyBoth);
      }
      let awaitingLostReply = false;
      client.on('data', (chunk: Buffer) => {
        if (this.frozen) return;
        if (this.replyLoss !== undefined && this.replyLoss.remaining > 0 && chunk.includes(this.replyLoss.pattern)) awaitingLostReply = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (this.frozen) return;
        if (awaitingLostReply && this.replyLoss !== undefined && this.replyLoss.remaining > 0) {
          // The server has done the work and answered; the client never hears of it.
          this.replyLoss.remaining--;
          this.repliesLost++;
          destroyBoth();
          return;
        }
        client.write(chunk);
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Refuses new connections and drops the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restore(): Promise<void> {
    await this.start();
  }

  /** A partition: connections open and stay open, but nothing passes either way (and nothing is delivered later). */
  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
  }

  /**
   * The next `times` requests containing `pattern` reach the server, but the connection is cut when
   * its reply comes: the work is done (an INSERT committed) and the client sees a lost connection.
   */
  loseRepliesTo(pattern: string, times: number): void {
    this.replyLoss = { pattern, remaining: times };
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
