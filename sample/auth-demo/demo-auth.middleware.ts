import { Injectable, type NestMiddleware } from '@nestjs/common';

/**
 * A stand-in for real authentication (Passport, JWT...): `Authorization: Bearer <id>` signs the
 * request in as user <id>. Middleware runs before guards, so the throttling guard sees the user.
 */
@Injectable()
export class DemoAuthMiddleware implements NestMiddleware {
  use(request: { headers: Record<string, string | undefined>; user?: unknown }, _response: unknown, next: () => void): void {
    const match = /^Bearer\s+([\w.-]{1,64})$/.exec(request.headers.authorization ?? '');
    if (match) request.user = { id: match[1] };
    next();
  }
}
