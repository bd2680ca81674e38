import { defineConfig } from 'vitest/config';

// The ACL test's broker (SASL_SSL, the StandardAuthorizer, tenant-sync's ACLs) is started once
// for the run by test/secured-broker.ts; the shared harness's plain broker is not needed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/secured-broker.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    fileParallelism: false,
  },
});
