import { integrationTestConfig } from '@tenant-sync/testing/vitest-config';

export default integrationTestConfig;
