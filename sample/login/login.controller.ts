import { Body, Controller, HttpCode, Post, Res, UnauthorizedException } from '@nestjs/common';
import { CacheThrottle, ThrottlingService } from '../../lib/index.js';
import { Shows } from '../routes/shows.decorator.js';

/** Demo accounts; a real app checks a password hash. */
const PASSWORDS: Readonly<Record<string, string>> = { alice: 'wonderland', bob: 'builder' };

/** Five failed passwords per username in 15 minutes, then that username waits, whatever the address. */
export const LoginThrottle = CacheThrottle.with({ throttleAt: 5, timeframe: 900, scope: 'login' });

/** Stands for a password hash check (async, like bcrypt or argon2). */
async function passwordMatches(username: string, password: unknown): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return PASSWORDS[username] !== undefined && PASSWORDS[username] === password;
}

/**
 * Password guessing protection keyed by the username being tried (not the client address, which an
 * attacker rotates). Each attempt holds a slot while the password is checked, so concurrent guesses
 * never check more than five passwords; a failure is counted, a success frees its slot and forgets
 * the failures. The route keeps the app's default per-address throttles as well.
 *
 *   curl -i -X POST http://127.0.0.1:3000/auth/login -H 'content-type: application/json' -d '{"username":"alice","password":"nope"}'
 */
@Controller('auth')
export class LoginController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Post('login')
  @HttpCode(200)
  @Shows('brute-force protection per username with ThrottlingService.attempt(): 5 wrong passwords in 15 minutes, however concurrent')
  async login(@Body() body: { username?: unknown; password?: unknown }, @Res({ passthrough: true }) response: unknown) {
    const username = typeof body?.username === 'string' && body.username.length > 0 ? body.username.slice(0, 200) : undefined;
    if (username === undefined) throw new UnauthorizedException('username and password are required');
    const account = { identity: username };
    const attempt = await this.throttling.attempt(account, LoginThrottle, { response, url: '/auth/login', method: 'POST' });
    if (!(await passwordMatches(username, body.password))) {
      await attempt.commit();
      throw new UnauthorizedException('wrong username or password');
    }
    await attempt.release();
    await this.throttling.reset(account, LoginThrottle);
    return { token: Buffer.from(`${username}:${Date.now()}`).toString('base64url') };
  }
}
