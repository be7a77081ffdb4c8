import { isIP } from 'node:net';
import { BadRequestException, Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { AnonThrottle, ScopedThrottle, type ThrottleSpec, ThrottlingService, UserThrottle } from '../../lib/index.js';
import { LoginThrottle } from '../login/login.controller.js';
import { Shows } from '../routes/shows.decorator.js';
import { AdminTokenGuard } from './admin-token.guard.js';

/** The buckets support staff may change, by the scope buckets() shows: the throttle and the route scope it needs. */
const BY_SCOPE: Readonly<Record<string, { readonly spec: ThrottleSpec; readonly scope?: string }>> = {
  anon: { spec: AnonThrottle },
  user: { spec: UserThrottle },
  uploads: { spec: ScopedThrottle, scope: 'uploads' },
  login: { spec: LoginThrottle },
};

/**
 * Support staff's view of a client's throttling: list its buckets, forgive one (grant), or count
 * extra requests on one (penalize). `:identity` is a user id (the sample's `Bearer <id>`) or a
 * username (the login throttle's); `?ip=` adds the buckets of an address (anonymous clients).
 * Guarded by a demo token (AdminTokenGuard); the app's default per-address throttles still apply,
 * so token guessing is throttled too.
 *
 *   curl -H 'x-admin-token: demo-admin-token' 'http://127.0.0.1:3000/admin/throttling/alice?ip=127.0.0.1'
 *   curl -X POST -H 'x-admin-token: demo-admin-token' -H 'content-type: application/json' -d '{"scope":"login"}' http://127.0.0.1:3000/admin/throttling/alice/grant
 */
@Controller('admin/throttling')
@UseGuards(AdminTokenGuard)
export class ThrottlingAdminController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Get(':identity')
  @Shows("support staff: a client's buckets (x-admin-token: demo-admin-token), with ?ip= an address's too")
  async buckets(@Param('identity') identity: string, @Query('ip') ip?: string) {
    const buckets = await this.throttling.buckets({ identity });
    if (ip === undefined) return { identity, buckets };
    if (isIP(ip) === 0) throw new BadRequestException(`ip must be an IPv4 or IPv6 address, got ${JSON.stringify(ip)}`);
    return { identity, buckets, address: { ip, buckets: await this.throttling.buckets({ ip, headers: {} }) } };
  }

  @Post(':identity/grant')
  @HttpCode(200)
  @Shows('support staff: forgive a client\'s usage of one bucket, body { "scope": "login" }')
  grant(@Param('identity') identity: string, @Body() body: { scope?: unknown }) {
    const { spec, scope } = bucketNamed(body?.scope);
    return this.throttling.grant({ identity }, spec, { scope });
  }

  @Post(':identity/penalize')
  @HttpCode(200)
  @Shows('support staff: count extra requests on a bucket, body { "scope": "user", "requests": 10 } (no requests: fill it)')
  penalize(@Param('identity') identity: string, @Body() body: { scope?: unknown; requests?: unknown }) {
    const { spec, scope } = bucketNamed(body?.scope);
    const requests = body?.requests;
    if (requests !== undefined && (typeof requests !== 'number' || !Number.isInteger(requests) || requests < 1)) {
      throw new BadRequestException(`requests must be a whole number of at least 1, got ${JSON.stringify(requests)}`);
    }
    return this.throttling.penalize({ identity }, spec, { scope, requests });
  }
}

function bucketNamed(scope: unknown): { spec: ThrottleSpec; scope?: string } {
  const found = typeof scope === 'string' && Object.hasOwn(BY_SCOPE, scope) ? BY_SCOPE[scope] : undefined;
  if (found === undefined) throw new BadRequestException(`scope must be one of ${Object.keys(BY_SCOPE).join(', ')}, got ${JSON.stringify(scope)}`);
  return found;
}
