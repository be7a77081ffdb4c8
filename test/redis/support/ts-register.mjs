// `node --import ./test/redis/support/ts-register.mjs child.ts`: run TypeScript in a child process.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
