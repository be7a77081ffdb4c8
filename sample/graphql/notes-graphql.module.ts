import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { NotesResolver } from './notes.resolver.js';

/**
 * POST /graphql (Apollo, code first, schema built in memory). DemoAuthMiddleware runs on /graphql
 * too, so `req.user` is set before the resolvers' guard reads it from the GraphQL context.
 */
@Module({
  imports: [
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      autoSchemaFile: true,
      graphiql: true,
    }),
  ],
  providers: [NotesResolver],
})
export class NotesGraphqlModule {}
