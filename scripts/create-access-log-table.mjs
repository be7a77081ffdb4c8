#!/usr/bin/env node
// Creates the access log table that CacheDBThrottle writes to (run once per database):
//
//   DATABASE_URL=postgres://user@host:5432/db npm run db:access-log
//   DATABASE_URL=... npm run db:access-log -- --schema audit --table api_access
//
// The schema (unless public), the table and its indexes are created if they do not exist; a table
// made by an earlier version gets the access_id column and its unique index (idempotent writes).
// Safe to run again at any time.
import { parseArgs } from 'node:util';
import { PostgresAccessLog } from '../dist/esm/index.js';

const { values } = parseArgs({
  options: {
    schema: { type: 'string', default: process.env.ACCESS_LOG_SCHEMA ?? 'public' },
    table: { type: 'string', default: process.env.ACCESS_LOG_TABLE ?? 'api_access' },
  },
});

if (!process.env.DATABASE_URL) {
  console.error('db:access-log: set DATABASE_URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/app npm run db:access-log');
  process.exit(2);
}

try {
  const log = new PostgresAccessLog({ connectionString: process.env.DATABASE_URL, schema: values.schema, table: values.table });
  try {
    await log.createTable();
    console.log(`db:access-log: ${log.qualifiedTable} is ready`);
  } finally {
    await log.close();
  }
} catch (error) {
  console.error(`db:access-log: ${error.message}`);
  process.exit(1);
}
