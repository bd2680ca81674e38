export { startTestInfrastructure, testTenants, type TestInfrastructure } from './infrastructure.ts';
export { certsDir, mintToken, type TokenOptions } from './tokens.ts';
export { eventually } from './eventually.ts';
