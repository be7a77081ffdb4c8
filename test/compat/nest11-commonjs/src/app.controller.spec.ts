import { Test, TestingModule } from '@nestjs/testing';
import { ThrottlingGuard } from 'nestjs-throttling';
import { AppController } from './app.controller';
import { AppModule } from './app.module';

describe('AppController', () => {
  let app: TestingModule;

  beforeEach(async () => {
    app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  });

  afterEach(() => app.close());

  it('should return "Hello World!"', () => {
    expect(app.get(AppController).getHello()).toBe('Hello World!');
  });

  it('should load the CommonJS build of nestjs-throttling, whose guard DI can construct', () => {
    expect(require.resolve('nestjs-throttling')).toMatch(/nestjs-throttling[\\/]dist[\\/]cjs[\\/]index\.js$/);
    expect(app.get(ThrottlingGuard)).toBeInstanceOf(ThrottlingGuard);
  });
});
