import { type ExecutionContext, Logger } from '@nestjs/common';
import { httpClientIdent, setResponseHeader } from '../../http/http-client.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { TransportBinding, TransportSettings } from './transport-binding.js';
import { onResponseClose } from './http-transport.js';
import { IntrinsicException } from '@nestjs/common';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { waitSeconds } from '../../core/wait.js';
import { throttledProblem, unavailableProblem } from './problem-errors.js';
import type { QuotaExceededProblem, ServiceUnavailableProblem } from '../../http/problem-details.js';
import type { ThrottleDecision } from '../../throttles/throttle.js';

/**
 * GraphQL resolvers under Apollo (Express or Fastify) and Mercurius. The resolver arguments are
 * read directly (`[root, args, context, info]`), so apps without @nestjs/graphql need nothing.
 *
 * One operation is one request: its root fields share one token (its GraphQL context and
 * request), so a query asking for three root fields counts once. Field resolvers and subscriptions run the
 * guard only when the app enables `fieldResolverEnhancers: ['guards']` or subscribes; they are not
 * counted unless their own method carries @ThrottleClasses / @ThrottleScope, and then once per
 * operation and field resolver, however many parent objects it resolves.
 */
export const graphqlTransport: TransportBinding = {
  requestToken(context) {
    const operation = operationToken(graphqlContextOf(context));
    if (isRootOperationField(context)) return operation;
    return fieldToken(operation, context.getHandler());
  },

  countsByDefault: (context) => isRootOperationField(context),

  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings, cost?: number): ThrottleContext {
    const gqlContext = graphqlContextOf(context);
    const info = context.getArgByIndex(3);
    const request = graphqlRequestOf(gqlContext);
    const user = request?.user ?? gqlContext.user;
    const userId = settings.userId(request ?? gqlContext, user);
    const response = graphqlResponseOf(gqlContext, request);
    if (response === undefined && isFastifyRequest(request)) warnNoReplyOnce(settings);
    return {
      transport: 'graphql',
      request: request ?? gqlContext,
      response,
      ident: request === undefined ? '' : httpClientIdent(request, settings.clientIdentity),
      user,
      userId,
      scope,
      controller: context.getClass(),
      handler: context.getHandler(),
      method: String(info?.operation?.operation ?? 'query').toUpperCase(),
      url: `${info?.parentType?.name ?? ''}.${info?.fieldName ?? ''}`,
      cost,
    };
  },

  setHeader: (ctx, name, value) => setResponseHeader(ctx.response, name, value),

  throttledError: (wait, _ctx, denial) => (denial?.errorFormat === 'problem' ? new GraphQLThrottledProblemError(wait, denial.decisions) : new GraphQLThrottledError(wait)),

  unavailableError: (_ctx, retryAfter, errorFormat) => (errorFormat === 'problem' ? new GraphQLStoreUnavailableProblemError(retryAfter) : new GraphQLStoreUnavailableError(retryAfter)),

  afterResponse: onResponseClose,
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
  // Mercurius sets `reply` on every request, while @nestjs/mercurius sets `req` on a static context once.
  const request = gqlContext.reply?.request ?? gqlContext.req ?? gqlContext.request ?? gqlContext.extra?.request;
  // Apollo's default context wraps whatever it is given as `req`: for graphql-ws, its own context.
  return request?.extra?.request ?? request;
}

/** Where headers go: Express sets `req.res`; Mercurius and Apollo on Fastify hand us the reply. */
function graphqlResponseOf(gqlContext: any, request: any): any {
  return gqlContext.reply ?? gqlContext.res ?? request?.res;
}

/** A Fastify request wraps Node's (`raw`); graphql-ws hands over the bare upgrade request, which has no response to write to. */
function isFastifyRequest(request: any): boolean {
  return request !== null && typeof request === 'object' && request.raw !== null && typeof request.raw === 'object';
}

const warnedApps = new WeakSet<TransportSettings>();

/**
 * Apollo on Fastify passes the reply to the context function but does not keep it in the context:
 * an app that does not put it there gets its queries throttled, and no header ever reaches the
 * client. That is easy to miss, so say it once per app rather than never.
 */
function warnNoReplyOnce(settings: TransportSettings): void {
  if (warnedApps.has(settings)) return;
  warnedApps.add(settings);
  new Logger('ThrottlingModule').warn(
    'A GraphQL request on Fastify has no reply in its context, so RateLimit and Retry-After headers cannot be sent (throttling itself works). ' +
      'With Apollo on Fastify, keep the reply in the context: context: (request, reply) => ({ req: request, reply })',
  );
}

/**
 * One token per operation: the pair (GraphQL context, request). The context alone is not enough:
 * a static `context` object is shared by every request under Mercurius, and graphql-ws shares one
 * upgrade request between all operations of a connection. Weakly held on both sides.
 */
const operationTokens = new WeakMap<object, WeakMap<object, object>>();

function operationToken(gqlContext: object): object {
  const request = graphqlRequestOf(gqlContext);
  if (request === null || typeof request !== 'object') return gqlContext;
  let byContext = operationTokens.get(request);
  if (byContext === undefined) operationTokens.set(request, (byContext = new WeakMap()));
  let token = byContext.get(gqlContext);
  if (token === undefined) byContext.set(gqlContext, (token = {}));
  return token;
}

/** One token per operation and field resolver, so a decorated field counts once per operation. */
const fieldTokens = new WeakMap<object, Map<Function, object>>();

function fieldToken(operation: object, handler: Function): object {
  let byHandler = fieldTokens.get(operation);
  if (byHandler === undefined) fieldTokens.set(operation, (byHandler = new Map()));
  let token = byHandler.get(handler);
  if (token === undefined) byHandler.set(handler, (token = {}));
  return token;
}

/** The error of a GraphQL resolver when the throttle store is down and onStoreError is 'deny'. */
export class GraphQLStoreUnavailableError extends IntrinsicException {
  /** `retryAfter`: whole seconds until the store is tried again, or null when unknown. */
  readonly extensions: { readonly code: 'SERVICE_UNAVAILABLE'; readonly retryAfter: number | null };

  constructor(retryAfter: number | null = null) {
    super(STORE_UNAVAILABLE_MESSAGE);
    this.name = 'GraphQLStoreUnavailableError';
    this.extensions = { code: 'SERVICE_UNAVAILABLE', retryAfter };
  }
}

/**
 * The throttled error of a GraphQL resolver. GraphQL's executor copies `extensions` of the error
 * a resolver throws into the response, so Apollo and Mercurius both answer
 * `{ errors: [{ message, extensions: { code: 'TOO_MANY_REQUESTS', retryAfter } }] }` without this
 * library importing `graphql`. An IntrinsicException, so Nest does not log every throttled call.
 */
export class GraphQLThrottledError extends IntrinsicException {
  /** Whole seconds until the client may retry (rounded up), or null when unknown. */
  readonly wait: number | null;
  readonly extensions: { readonly code: 'TOO_MANY_REQUESTS'; readonly retryAfter: number | null };

  constructor(wait: number | null) {
    const seconds = waitSeconds(wait);
    super(throttledMessage(seconds));
    this.name = 'GraphQLThrottledError';
    this.wait = seconds;
    this.extensions = { code: 'TOO_MANY_REQUESTS', retryAfter: seconds };
  }
}

/** GraphQLThrottledError whose `extensions` also hold the problem's members: `{ code, retryAfter, type, title, status, detail, violated-policies }`. */
export class GraphQLThrottledProblemError extends GraphQLThrottledError {
  override readonly extensions: GraphQLThrottledError['extensions'] & QuotaExceededProblem;

  constructor(wait: number | null, decisions: readonly ThrottleDecision[]) {
    super(wait);
    this.extensions = { code: 'TOO_MANY_REQUESTS', ...throttledProblem(wait, decisions) };
  }
}

/** GraphQLStoreUnavailableError whose `extensions` also hold the 503 problem's members. */
export class GraphQLStoreUnavailableProblemError extends GraphQLStoreUnavailableError {
  override readonly extensions: GraphQLStoreUnavailableError['extensions'] & ServiceUnavailableProblem;

  constructor(retryAfter: number | null) {
    super(retryAfter);
    this.extensions = { code: 'SERVICE_UNAVAILABLE', ...unavailableProblem(retryAfter) };
  }
}
