import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Integration tests: one real PostgreSQL and Kafka per run, started or reused by the harness.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [fileURLToPath(import.meta.resolve('@tenant-sync/testing/global-setup'))],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    fileParallelism: false,
  },
});
