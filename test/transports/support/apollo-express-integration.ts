import { HeaderMap, type ApolloServer, type BaseContext, type ContextFunction } from '@apollo/server';

/**
 * Stand-in for @as-integrations/express5, which @nestjs/apollo loads on Express but which is not
 * installed in this tree. It follows that package's source: one call to Apollo's documented
 * integration API, `executeHTTPGraphQLRequest`, with the Express request and response.
 * Registered with `jest.unstable_mockModule('@as-integrations/express5', ..., { virtual: true })`.
 */
export function expressMiddleware<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  options?: { context?: ContextFunction<[{ req: any; res: any }], TContext> },
) {
  server.assertStarted('expressMiddleware()');
  const context = options?.context ?? (async () => ({}) as TContext);
  return (req: any, res: any, next: (error?: unknown) => void) => {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers as Record<string, string | string[] | undefined>)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const search = new URL(req.url, 'http://localhost').search;
    server
      .executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method.toUpperCase(), headers, search, body: req.body },
        context: () => context({ req, res }),
      })
      .then(async (response) => {
        for (const [key, value] of response.headers) res.setHeader(key, value);
        res.statusCode = response.status ?? 200;
        if (response.body.kind === 'complete') {
          res.send(response.body.string);
          return;
        }
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      })
      .catch(next);
  };
}
