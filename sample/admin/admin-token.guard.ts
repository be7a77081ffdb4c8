import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';

/** The demo's token when ADMIN_TOKEN is not set. A demo only: a real app authenticates its staff. */
export const DEMO_ADMIN_TOKEN = 'demo-admin-token';

/**
 * A demo guard for the support routes: the `x-admin-token` header must equal ADMIN_TOKEN (or the demo
 * token), compared in constant time. Stand-in for real staff authentication (SSO, roles).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected = Buffer.from(process.env.ADMIN_TOKEN || DEMO_ADMIN_TOKEN);

  canActivate(context: ExecutionContext): boolean {
    const given = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers['x-admin-token'];
    const token = typeof given === 'string' ? Buffer.from(given) : undefined;
    if (token === undefined || token.length !== this.expected.length || !timingSafeEqual(token, this.expected)) {
      throw new UnauthorizedException('send the admin token in x-admin-token');
    }
    return true;
  }
}
