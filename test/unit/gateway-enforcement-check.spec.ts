import { describe, expect, test } from '@jest/globals';
import { Injectable, UseGuards, UseInterceptors } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { ThrottleClasses, ThrottlingGuard, ThrottlingInterceptor, UserThrottle } from '../../lib/index.js';
import { unthrottledGateways } from '../../lib/nest/transports/gateway-enforcement-check.js';

@WebSocketGateway()
class UnguardedGateway {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@UseGuards(ThrottlingGuard)
class ClassGuardedGateway {
  @SubscribeMessage('a') a() {}
}

@Injectable()
class OwnThrottlingGuard extends ThrottlingGuard {}

@WebSocketGateway()
@UseGuards(OwnThrottlingGuard)
class SubclassGuardedGateway {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
class EveryHandlerGuardedGateway {
  @SubscribeMessage('a') @UseGuards(ThrottlingGuard) a() {}
  @SubscribeMessage('b') @UseGuards(ThrottlingGuard) b() {}
  helper() {}
}

@WebSocketGateway()
class SomeHandlersGuardedGateway {
  @SubscribeMessage('a') @UseGuards(ThrottlingGuard) a() {}
  @SubscribeMessage('b') b() {}
}

@WebSocketGateway()
@ThrottleClasses()
class ThrottlingOffGateway {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@ThrottleClasses(UserThrottle)
class ThrottledButUnguardedGateway {
  @SubscribeMessage('a') a() {}
}

@WebSocketGateway()
@UseInterceptors(ThrottlingInterceptor)
class InterceptedGateway {
  @SubscribeMessage('a') a() {}
}

const ALL = [
  UnguardedGateway,
  ClassGuardedGateway,
  SubclassGuardedGateway,
  EveryHandlerGuardedGateway,
  SomeHandlersGuardedGateway,
  ThrottlingOffGateway,
  ThrottledButUnguardedGateway,
  InterceptedGateway,
];

describe('gateways the global enforcer cannot reach on Nest 11', () => {
  test('on @nestjs/websockets 11, a gateway is named unless ThrottlingGuard is bound on it, on every handler, or throttling is off on it', () => {
    expect(unthrottledGateways(ALL, 11, 'guard')).toEqual([UnguardedGateway, SomeHandlersGuardedGateway, ThrottledButUnguardedGateway, InterceptedGateway]);
  });

  test("under enforceAt: 'interceptor' it is ThrottlingInterceptor that a gateway must bind", () => {
    expect(unthrottledGateways(ALL, 11, 'interceptor')).toEqual([
      UnguardedGateway,
      ClassGuardedGateway,
      SubclassGuardedGateway,
      EveryHandlerGuardedGateway,
      SomeHandlersGuardedGateway,
      ThrottledButUnguardedGateway,
    ]);
  });

  test('on @nestjs/websockets 12, which runs global guards and interceptors for gateways, none is named', () => {
    expect(unthrottledGateways(ALL, 12, 'guard')).toEqual([]);
    expect(unthrottledGateways(ALL, 12, 'interceptor')).toEqual([]);
  });

  test('when the version cannot be read, none is named rather than a false alarm', () => {
    expect(unthrottledGateways(ALL, undefined, 'guard')).toEqual([]);
  });
});
