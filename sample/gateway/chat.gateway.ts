import { MessageBody, type OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { ThrottleClasses } from '../../lib/index.js';
import { BurstThrottle } from '../contacts/contacts.controller.js';
import { Shows } from '../routes/shows.decorator.js';

/**
 * A socket.io chat on namespace /chat, behind the same global guard: each message is one request.
 * Sign in with `io('/chat', { auth: { token: 'Bearer <id>' } })`. A throttled message gets the
 * `exception` event `{ status: 'error', message, retryAfter }`.
 */
@WebSocketGateway({ namespace: 'chat' })
export class ChatGateway implements OnGatewayInit {
  afterInit(server: Server): void {
    // Where a socket.io app authenticates: once per connection, into socket.data.user.
    server.use((socket: Socket, next) => {
      const match = /^Bearer\s+([\w.-]{1,64})$/.exec(String(socket.handshake.auth?.token ?? socket.handshake.headers.authorization ?? ''));
      if (match) socket.data.user = { id: match[1] };
      next();
    });
  }

  /** Default throttles: anon 20/min, user 60/min per socket address or user. */
  @SubscribeMessage('say')
  @Shows('one message is one request, on the default throttles')
  say(@MessageBody() text: string): { said: string } {
    return { said: String(text) };
  }

  /** Shouting is limited like exports: 10 a minute per user. */
  @SubscribeMessage('shout')
  @Shows('a throttle of its own on one message: 10 a minute')
  @ThrottleClasses(BurstThrottle)
  shout(@MessageBody() text: string): { shouted: string } {
    return { shouted: String(text).toUpperCase() };
  }

  /** Typing indicators are never throttled. */
  @SubscribeMessage('typing')
  @Shows('never throttled')
  @ThrottleClasses()
  typing(): { ok: true } {
    return { ok: true };
  }
}
