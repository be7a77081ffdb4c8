import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { ThrottlingModule } from '../lib/index.js';
import { AdminModule } from './admin/admin.module.js';
import { DemoAuthMiddleware } from './auth-demo/demo-auth.middleware.js';
import { ContactsModule } from './contacts/contacts.module.js';
import { HealthController } from './health.controller.js';
import { PlansModule } from './plans/plans.module.js';
import { SearchModule } from './search/search.module.js';
import { LoginModule } from './login/login.module.js';
import { ChatModule } from './gateway/chat.module.js';
import { NotesGraphqlModule } from './graphql/notes-graphql.module.js';
import { RoutesModule } from './routes/routes.module.js';
import { OperationsModule } from './operations/operations.module.js';
import { throttlingOptions } from './throttling-options.js';

/**
 * The sample API: `GET /` lists its routes. Anonymous clients get 20 requests a minute, signed-in
 * users 60 (send `Authorization: Bearer <user-id>`; see DemoAuthMiddleware).
 */
@Module({
  imports: [
    ThrottlingModule.forRoot(throttlingOptions),
    RoutesModule,
    ContactsModule,
    PlansModule,
    SearchModule,
    LoginModule,
    ChatModule,
    NotesGraphqlModule,
    OperationsModule,
    AdminModule,
  ],
  controllers: [HealthController],
})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(DemoAuthMiddleware).forRoutes('*');
  }
}
