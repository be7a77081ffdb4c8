import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/** Runs the sample API: `npm start`, then e.g. `curl -i localhost:3000/contacts`. */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  console.log(`sample API on http://127.0.0.1:${port} (try: curl -i http://127.0.0.1:${port}/contacts)`);
}

void bootstrap();
