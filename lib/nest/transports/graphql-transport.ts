import type { ExecutionContext } from '@nestjs/common';
import { httpClientIdent, setResponseHeader } from '../../http/http-client.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { ThrottlingSettings } from '../throttling-settings.js';
import { GraphQLThrottledError } from './graphql-throttled.error.js';
import type { TransportBinding } from './transport-binding.js';

/**
 * GraphQL resolvers under Apollo (Express or Fastify) and Mercurius. The resolver arguments are
 * read directly (`[root, args, context, info]`), so apps without @nestjs/graphql need nothing.
 *
 * One operation is one request: its root fields share one token (the GraphQL context object),
 * so a query asking for three root fields counts once. Field resolvers and subscriptions run the
 * guard only when the app enables `fieldResolverEnhancers: ['guards']` or subscribes; they are not
 * counted unless their own method carries @ThrottleClasses / @ThrottleScope, and then once per
 * operation and field resolver, however many parent objects it resolves.
 */
export const graphqlTransport: TransportBinding = {
  requestToken(context) {
    const gqlContext = graphqlContextOf(context);
    if (isRootOperationField(context)) return gqlContext;
    return fieldToken(gqlContext, context.getHandler());
  },

  countsByDefault: (context) => isRootOperationField(context),

  createContext(context: ExecutionContext, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext {
    const gqlContext = graphqlContextOf(context);
    const info = context.getArgByIndex(3);
    const request = graphqlRequestOf(gqlContext);
    const user = request?.user ?? gqlContext.user;
    const id = settings.userId(request ?? gqlContext, user);
    return {
      transport: 'graphql',
      request: request ?? gqlContext,
      response: graphqlResponseOf(gqlContext, request),
      ident: request === undefined ? '' : httpClientIdent(request, settings.numProxies),
      user,
      userId: id === null || id === undefined ? null : String(id),
      scope,
      controller: context.getClass(),
      handler: context.getHandler(),
      method: String(info?.operation?.operation ?? 'query').toUpperCase(),
      url: `${info?.parentType?.name ?? ''}.${info?.fieldName ?? ''}`,
    };
  },

  setHeader: (ctx, name, value) => setResponseHeader(ctx.response, name, value),

  throttledError: (wait) => new GraphQLThrottledError(wait),
};

function graphqlContextOf(context: ExecutionContext): any {
  return context.getArgByIndex(2) ?? {};
}

/** A root Query or Mutation field (a subscription is a long-lived stream, not one request). */
function isRootOperationField(context: ExecutionContext): boolean {
  const info = context.getArgByIndex(3);
  return info?.path?.prev === undefined && info?.operation?.operation !== 'subscription';
}

/**
 * The HTTP request behind the operation: Apollo's default context is `{ req }`; Mercurius passes
 * its `reply` (whose `request` is the Fastify request); graphql-ws puts the upgrade request in
 * `extra.request`.
 */
export function graphqlRequestOf(gqlContext: any): any {
  const request = gqlContext.req ?? gqlContext.request ?? gqlContext.reply?.request ?? gqlContext.extra?.request;
  // Apollo's default context wraps whatever it is given as `req`: for graphql-ws, its own context.
  return request?.extra?.request ?? request;
}

/** Where headers go: Express sets `req.res`; Mercurius and Apollo on Fastify hand us the reply. */
function graphqlResponseOf(gqlContext: any, request: any): any {
  return gqlContext.res ?? gqlContext.reply ?? request?.res;
}

/** One token per operation and field resolver, so a decorated field counts once per operation. */
const fieldTokens = new WeakMap<object, Map<Function, object>>();

function fieldToken(gqlContext: object, handler: Function): object {
  let byHandler = fieldTokens.get(gqlContext);
  if (byHandler === undefined) fieldTokens.set(gqlContext, (byHandler = new Map()));
  let token = byHandler.get(handler);
  if (token === undefined) byHandler.set(handler, (token = {}));
  return token;
}
