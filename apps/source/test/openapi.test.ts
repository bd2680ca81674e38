import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildSource } from './build-source.ts';

// The committed documents are file snapshots of what the route schemas declare: a change to a
// route that is not reflected in docs/openapi/ fails here (and in CI, which never writes
// snapshots). Regenerate with: npx vitest run -u test/openapi.test.ts (in apps/source).
describe('OpenAPI documents of the source', async () => {
  const source = await buildSource(inject('infra'));
  afterAll(() => source.close());

  it('docs/openapi/public-api.json is what the public listener serves at /docs/json', async () => {
    const served = await source.publicServer.inject({ url: '/docs/json' });
    expect(served.statusCode).toBe(200);
    await expect(`${JSON.stringify(served.json(), null, 2)}\n`).toMatchFileSnapshot('../../../docs/openapi/public-api.json');
  });

  it('docs/openapi/reference-api.json is what the Reference API declares', async () => {
    await source.internalServer.ready();
    await expect(`${JSON.stringify(source.internalServer.swagger(), null, 2)}\n`).toMatchFileSnapshot('../../../docs/openapi/reference-api.json');
  });
});
