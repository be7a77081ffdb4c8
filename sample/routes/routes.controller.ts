import { Controller, Get, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { RESOLVER_NAME_METADATA, RESOLVER_TYPE_METADATA } from '@nestjs/graphql';
import { GATEWAY_OPTIONS, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { THROTTLE_CLASSES_METADATA, THROTTLE_SCOPE_METADATA, ThrottleClasses } from '../../lib/index.js';
import { throttlingOptions } from '../throttling-options.js';
import { Shows } from './shows.decorator.js';

/** One line of the index: where to call, the throttles that count the call, what it shows. */
export interface RouteEntry {
  /** An HTTP method, `GRAPHQL` (a query or mutation, POSTed to /graphql) or `SOCKET.IO` (a message). */
  readonly method: string;
  /** The HTTP path, `/graphql <query|mutation> <field>`, or `<namespace> <message>`. */
  readonly path: string;
  readonly throttles: string;
  readonly shows?: string;
}

/**
 * `GET /`: every route of the sample, found through Nest's discovery (controllers for HTTP,
 * resolvers for GraphQL, gateways for socket.io), so the list cannot go stale. Each entry names the
 * throttles the guard runs there and, where the handler has one, the words of its @Shows().
 * Not throttled, like /health: it is the first thing a newcomer curls.
 */
@Controller()
@ThrottleClasses()
export class RoutesController {
  private entries: RouteEntry[] | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  @Get()
  @Shows('this list')
  index(): { routes: RouteEntry[]; signIn: string } {
    this.entries ??= this.discover();
    return { routes: this.entries, signIn: 'send Authorization: Bearer <any-id> to be signed in as that user (sample/auth-demo)' };
  }

  private discover(): RouteEntry[] {
    const entries: RouteEntry[] = [];
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance = wrapper.instance as object | undefined;
      const type = wrapper.metatype as Function | undefined;
      if (!instance || !type || typeof type !== 'function') continue;
      const prototype = Object.getPrototypeOf(instance);
      const namespace = gatewayNamespace(type);
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        const where = [...httpRoutes(type, handler), ...graphqlOperations(handler, name), ...socketMessages(namespace, handler)];
        if (where.length === 0) continue;
        const shows = this.discovery.getMetadataByDecorator(Shows, wrapper as InstanceWrapper, name);
        const throttles = throttlesOf(type, handler);
        for (const { method, path } of where) entries.push({ method, path, throttles, ...(shows ? { shows } : {}) });
      }
    }
    return entries.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  }
}

type Where = { method: string; path: string };

/** Every path a controller method answers: Nest takes a string or a list on the class and on the method. */
function httpRoutes(type: Function, handler: Function): Where[] {
  const method: RequestMethod | undefined = Reflect.getMetadata(METHOD_METADATA, handler);
  if (method === undefined || Reflect.getMetadata(PATH_METADATA, type) === undefined) return [];
  const list = (path: string | string[] | undefined) => (Array.isArray(path) ? path : [path ?? '']);
  const trim = (part: string) => part.replace(/^\/+|\/+$/g, '');
  return list(Reflect.getMetadata(PATH_METADATA, type)).flatMap((base) =>
    list(Reflect.getMetadata(PATH_METADATA, handler)).map((tail) => ({ method: RequestMethod[method], path: `/${[trim(base), trim(tail)].filter(Boolean).join('/')}` })),
  );
}

/** A root query or mutation (field resolvers are part of their operation, never a request of their own). */
function graphqlOperations(handler: Function, name: string): Where[] {
  const kind: unknown = Reflect.getMetadata(RESOLVER_TYPE_METADATA, handler);
  if (kind !== 'Query' && kind !== 'Mutation') return [];
  return [{ method: 'GRAPHQL', path: `/graphql ${kind.toLowerCase()} ${Reflect.getMetadata(RESOLVER_NAME_METADATA, handler) ?? name}` }];
}

function gatewayNamespace(type: Function): string | undefined {
  const options: { namespace?: unknown } | undefined = Reflect.getMetadata(GATEWAY_OPTIONS, type);
  if (options === undefined) return undefined;
  return typeof options.namespace === 'string' ? `/${options.namespace.replace(/^\/+/, '')}` : '/';
}

function socketMessages(namespace: string | undefined, handler: Function): Where[] {
  const message: unknown = namespace === undefined ? undefined : Reflect.getMetadata(MESSAGE_METADATA, handler);
  return typeof message === 'string' ? [{ method: 'SOCKET.IO', path: `${namespace} ${message}` }] : [];
}

/** As the guard picks them: the handler's @ThrottleClasses(), else the class's, else the module's defaults. */
function throttlesOf(type: Function, handler: Function): string {
  const classes: readonly Function[] =
    Reflect.getMetadata(THROTTLE_CLASSES_METADATA, handler) ?? Reflect.getMetadata(THROTTLE_CLASSES_METADATA, type) ?? throttlingOptions.defaultThrottles;
  if (classes.length === 0) return 'none';
  const scope: string | undefined = Reflect.getMetadata(THROTTLE_SCOPE_METADATA, handler) ?? Reflect.getMetadata(THROTTLE_SCOPE_METADATA, type);
  return classes.map((throttle) => throttle.name).join(', ') + (scope ? `, scope '${scope}'` : '');
}
