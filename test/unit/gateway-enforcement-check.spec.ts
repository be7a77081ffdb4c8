import { describe, expect, test } from '@jest/globals';
import { Injectable, UseGuards, UseInterceptors } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { CacheThrottle, ThrottleAccessInterceptor, ThrottleClasses, ThrottlingGuard, ThrottlingInterceptor, UserThrottle } from '../../lib/index.js';
import { type GlobalEnforcement, unthrottledGateways } from '../../lib/nest/boot-checks/gateway-enforcement-check.js';

const GUARD: GlobalEnforcement = { enforceAt: 'guard', defaultsRecordAccesses: false };
const INTERCEPTOR: GlobalEnforcement = { enforceAt: 'interceptor', defaultsRecordAccesses: false };
const RECORDING_DEFAULTS: GlobalEnforcement = { enforceAt: 'guard', defaultsRecordAccesses: true };

@WebSocketGateway()
class Unguarded {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@UseGuards(ThrottlingGuard)
class ClassGuarded {
  @SubscribeMessage('a') a() {}
}

@Injectable()
class OwnThrottlingGuard extends ThrottlingGuard {}

@WebSocketGateway()
@UseGuards(OwnThrottlingGuard)
class SubclassGuarded {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
class EveryHandlerGuarded {
  @SubscribeMessage('a') @UseGuards(ThrottlingGuard) a() {}
  @SubscribeMessage('b') @UseGuards(ThrottlingGuard) b() {}
  helper() {}
}

@WebSocketGateway()
class SomeHandlersGuarded {
  @SubscribeMessage('a') @UseGuards(ThrottlingGuard) a() {}
  @SubscribeMessage('b') b() {}
}

@WebSocketGateway()
@ThrottleClasses()
class ThrottlingOff {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
class UnguardedHandlerOff {
  @SubscribeMessage('a') @UseGuards(ThrottlingGuard) a() {}
  @SubscribeMessage('b') @ThrottleClasses() b() {}
}

@WebSocketGateway()
@ThrottleClasses(UserThrottle)
class ThrottledButUnguarded {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@UseInterceptors(ThrottlingInterceptor)
class Intercepted {
  @SubscribeMessage('a') a() {}
}

/** Its handler comes from a base class: still a handler of this gateway. */
class BaseHandlers {
  @SubscribeMessage('a') a() {}
}
@WebSocketGateway()
class InheritsUnguarded extends BaseHandlers {}

@WebSocketGateway()
@UseGuards(ThrottlingGuard)
class InheritsGuarded extends BaseHandlers {}

@WebSocketGateway()
@UseGuards(ThrottlingGuard)
@UseInterceptors(ThrottleAccessInterceptor)
class GuardedAndRecording {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@UseGuards(ThrottlingGuard)
class GuardedWithOwnTastypieThrottle {
  // @ThrottleClasses() binds the access interceptor itself.
  @SubscribeMessage('a') @ThrottleClasses(CacheThrottle) a() {}
}

const names = (found: { gateway: Function; missing: readonly string[] }[]) => found.map(({ gateway, missing }) => `${gateway.name}: ${missing.join(' and ')}`);

describe('gateways the global enforcement cannot reach on Nest 11', () => {
  test('on @nestjs/websockets 11, a gateway is named unless ThrottlingGuard covers every throttled handler', () => {
    const gateways = [Unguarded, ClassGuarded, SubclassGuarded, EveryHandlerGuarded, SomeHandlersGuarded, ThrottlingOff, UnguardedHandlerOff, ThrottledButUnguarded, Intercepted, InheritsUnguarded, InheritsGuarded];
    expect(names(unthrottledGateways(gateways, 11, GUARD))).toEqual([
      'Unguarded: @UseGuards(ThrottlingGuard)',
      'SomeHandlersGuarded: @UseGuards(ThrottlingGuard)',
      'ThrottledButUnguarded: @UseGuards(ThrottlingGuard)',
      'Intercepted: @UseGuards(ThrottlingGuard)',
      'InheritsUnguarded: @UseGuards(ThrottlingGuard)',
    ]);
  });

  test("under enforceAt: 'interceptor' it is ThrottlingInterceptor that a gateway must bind", () => {
    expect(names(unthrottledGateways([ClassGuarded, Intercepted, ThrottlingOff], 11, INTERCEPTOR))).toEqual(['ClassGuarded: @UseInterceptors(ThrottlingInterceptor)']);
  });

  test('when defaultThrottles record accesses, a gateway that relies on them also needs the access interceptor', () => {
    expect(names(unthrottledGateways([ClassGuarded, GuardedAndRecording, GuardedWithOwnTastypieThrottle, Unguarded], 11, RECORDING_DEFAULTS))).toEqual([
      'ClassGuarded: @UseInterceptors(ThrottleAccessInterceptor)',
      'Unguarded: @UseGuards(ThrottlingGuard) and @UseInterceptors(ThrottleAccessInterceptor)',
    ]);
  });

  test('on @nestjs/websockets 12, which runs global guards and interceptors for gateways, none is named', () => {
    expect(unthrottledGateways([Unguarded, ClassGuarded], 12, RECORDING_DEFAULTS)).toEqual([]);
  });

  test('when the version cannot be read, none is named rather than a false alarm', () => {
    expect(unthrottledGateways([Unguarded], undefined, GUARD)).toEqual([]);
  });
});
