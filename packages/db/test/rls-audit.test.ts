import postgres from 'postgres';
import { afterAll, describe, expect, it, inject } from 'vitest';

const infra = inject('infra');

/** The login roles of the apps. */
const allAppRoles = ['consumer_app', 'relay_app', 'source_app'];

/** The tables of each database that hold tenant data; the audit fails if one appears that is not listed. */
const tenantTables = { source: ['memberships', 'organizations', 'outbox', 'teams', 'tombstones', 'users'], consumer: ['synced_teams', 'synced_users'] } as const;

/** Tables of the audited operator path only: no app role may reach them, whatever the tenant. */
const operatorTables = ['operator_audit_log'];
const OPERATOR = 'tenant_operator';

/**
 * Policies besides tenant_isolation, each for one named role: the relay's drain of the outbox
 * and its purge of tombstones (ids only), the owner's listing of the consumer's tenants (read
 * only, reached through `synced_tenants()` alone: nothing logs in as the owner), and the
 * operator path.
 */
const isAllowedExtraPolicy = (table: string, policy: { name: string; roles: string[]; command: string }) =>
  (table === 'outbox' && policy.name === 'relay_drains_all_tenants' && policy.roles.join() === 'relay_app') ||
  (table === 'tombstones' && policy.name === 'relay_purges_tombstones' && policy.roles.join() === 'relay_app') ||
  (table.startsWith('synced_') && policy.name === 'owner_lists_tenants' && policy.roles.join() === 'tenant_sync_owner' && policy.command === 'r') ||
  (table === 'organizations' && policy.name === 'owner_reads_status' && policy.roles.join() === 'tenant_sync_owner' && policy.command === 'r') ||
  policy.roles.join() === OPERATOR;

/** The tenant column of a table: `organizations` is keyed by the tenant id itself. */
const tenantColumn = (table: string) => (table === 'organizations' ? 'id' : 'org_id');

/** The one fragment every tenant policy compares with: the GUC, NULL when unset or empty, evaluated once per statement. */
const tenantExpression = /\(\s*SELECT \(NULLIF\(current_setting\('app\.current_tenant'::text, true\), ''::text\)\)::uuid AS/;

/**
 * Reads the catalogues of both freshly migrated test databases and checks what row level
 * security depends on: every tenant table has RLS enabled and forced, policies with USING and
 * WITH CHECK on the tenant, an index led by the tenant column, keys that include it; the app
 * roles own nothing, bypass nothing and hold no more than their job needs.
 */
describe.each([
  ['source', infra.sourceAdminUrl],
  ['consumer', infra.consumerAdminUrl],
] as const)('row level security audit of the %s database', (database, url) => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  afterAll(() => sql.end());

  const tables = () => sql<{ oid: number; name: string; rls: boolean; forced: boolean; owner: string }[]>`
    SELECT c.oid::int AS oid, c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname`;

  const columnsOf = async (table: string) =>
    (await sql<{ name: string }[]>`
      SELECT attname AS name FROM pg_attribute WHERE attrelid = ${table}::regclass AND attnum > 0 AND NOT attisdropped`).map((row) => row.name);

  it('knows every table that holds a tenant column', async () => {
    const withTenant: string[] = [];
    for (const table of await tables()) {
      const columns = await columnsOf(table.name);
      if (columns.includes('org_id') || table.name === 'organizations') withTenant.push(table.name);
    }
    expect(withTenant.filter((table) => !operatorTables.includes(table))).toEqual([...tenantTables[database]]);
  });

  it('keeps the operator-only tables closed to every other role', async () => {
    for (const table of (await tables()).filter(({ name }) => operatorTables.includes(name))) {
      expect(table, table.name).toMatchObject({ rls: true, forced: true });
      const policies = await sql<{ name: string; roles: string[]; command: string }[]>`
        SELECT polname AS name, polcmd AS command,
               ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END FROM unnest(polroles) AS r) AS roles
        FROM pg_policy WHERE polrelid = ${table.oid}`;
      // The operator reads; only the owner appends, through the audit functions (nothing logs in as it).
      expect(policies.map(({ name, roles, command }) => ({ name, roles, command })).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
        { name: 'operator_reads_audit', roles: [OPERATOR], command: 'r' },
        { name: 'owner_appends_audit', roles: ['tenant_sync_owner'], command: 'a' },
      ]);
      const [reachable] = await sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM unnest(${allAppRoles}::text[]) AS role
        WHERE has_table_privilege(role, ${table.oid}::oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')`;
      expect(reachable?.count, table.name).toBe(0);
    }
  });

  it('enables and forces RLS on every tenant table, owned by a role that is not an app role', async () => {
    const audited = (await tables()).filter((table) => (tenantTables[database] as readonly string[]).includes(table.name));
    expect(audited.map(({ name, rls, forced }) => ({ name, rls, forced }))).toEqual(
      tenantTables[database].map((name) => ({ name, rls: true, forced: true })),
    );
    for (const table of audited) expect(allAppRoles).not.toContain(table.owner);
  });

  it('guards every tenant table with a policy whose USING and WITH CHECK match the tenant column to the GUC', async () => {
    for (const table of tenantTables[database]) {
      const policies = await sql<{ name: string; permissive: boolean; roles: string[]; using: string | null; check: string | null; command: string }[]>`
        SELECT polname AS name, polpermissive AS permissive, polcmd AS command,
               ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END FROM unnest(polroles) AS r) AS roles,
               pg_get_expr(polqual, polrelid) AS using, pg_get_expr(polwithcheck, polrelid) AS check
        FROM pg_policy WHERE polrelid = ${table}::regclass`;
      const tenantPolicy = policies.find((policy) => policy.name === 'tenant_isolation');
      expect(tenantPolicy, table).toBeDefined();
      expect(tenantPolicy).toMatchObject({ permissive: true, command: '*', roles: ['public'] });
      for (const clause of [tenantPolicy?.using, tenantPolicy?.check]) {
        expect(clause, table).toMatch(new RegExp(`^\\(${tenantColumn(table)} = ${tenantExpression.source}`));
      }
      // Any other permissive policy widens what a role sees: only the relay's drain of the
      // outbox and the operator path may, each for its own role and never for PUBLIC.
      for (const policy of policies.filter((policy) => policy !== tenantPolicy)) {
        expect(isAllowedExtraPolicy(table, policy), `${table}.${policy.name} for ${policy.roles.join()}`).toBe(true);
      }
    }
  });

  it('indexes every tenant table by its tenant column first', async () => {
    for (const table of tenantTables[database]) {
      const [row] = await sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = ${table}::regclass AND a.attname = ${tenantColumn(table)}`;
      expect(row?.count, table).toBeGreaterThan(0);
    }
  });

  it('makes every unique key and foreign key of a tenant table include the tenant column', async () => {
    for (const table of tenantTables[database]) {
      const keys = await sql<{ name: string; kind: string; columns: string[]; generated: boolean }[]>`
        SELECT ic.relname AS name, 'unique' AS kind,
               ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = ANY (i.indkey)) AS columns,
               -- a key only the database fills (identity, or a random default nobody may write) tells a tenant nothing
               bool_and(a.attidentity = 'a' OR (pg_get_expr(d.adbin, d.adrelid) = 'gen_random_uuid()'
                        AND NOT has_column_privilege('source_app', i.indrelid, a.attnum, 'INSERT'))) AS generated
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE i.indrelid = ${table}::regclass AND i.indisunique
        GROUP BY ic.relname, i.indrelid, i.indkey
        UNION ALL
        SELECT conname, 'foreign',
               ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY (conkey)), false
        FROM pg_constraint WHERE conrelid = ${table}::regclass AND contype = 'f'`;
      for (const key of keys) {
        if (key.kind === 'unique' && key.generated) continue;
        expect(key.columns, `${table}.${key.name}`).toContain(tenantColumn(table));
      }
    }
  });

  it('gives the app and operator roles no superuser, no BYPASSRLS, no way to create roles or become the owner', async () => {
    const audited = [...allAppRoles, ...(await sql`SELECT 1 FROM pg_roles WHERE rolname = ${OPERATOR}`).map(() => OPERATOR)].sort();
    const roles = await sql<{ name: string; superuser: boolean; bypassrls: boolean; createrole: boolean; createdb: boolean; owner: boolean }[]>`
      SELECT rolname AS name, rolsuper AS superuser, rolbypassrls AS bypassrls, rolcreaterole AS createrole, rolcreatedb AS createdb,
             pg_has_role(rolname, 'tenant_sync_owner', 'MEMBER') AS owner
      FROM pg_roles WHERE rolname = ANY (${audited}) ORDER BY rolname`;
    expect(roles).toEqual(
      audited.map((name) => ({ name, superuser: false, bypassrls: false, createrole: false, createdb: false, owner: false })),
    );
    const [owned] = await sql<{ count: number }[]>`
      SELECT count(*)::int AS count FROM pg_class WHERE pg_get_userbyid(relowner) = ANY (${audited})`;
    expect(owned?.count).toBe(0);
  });

  it('grants each app role only the table privileges its job needs', async () => {
    const grants = await sql<{ role: string; table: string; privilege: string }[]>`
      SELECT r.rolname AS role, c.relname AS table, p.privilege
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN pg_roles r
      CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(privilege)
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        AND r.rolname = ANY (${allAppRoles})
        AND (has_table_privilege(r.oid, c.oid, p.privilege)
             OR (p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') AND has_any_column_privilege(r.oid, c.oid, p.privilege)))
      ORDER BY 1, 2, 3`;
    const expected =
      database === 'source'
        ? [
            ['relay_app', 'outbox', 'DELETE'],
            ['relay_app', 'outbox', 'SELECT'],
            ['relay_app', 'outbox', 'UPDATE'],
            ['relay_app', 'tombstones', 'DELETE'],
            ['relay_app', 'tombstones', 'SELECT'],
            ['source_app', 'memberships', 'SELECT'],
            ['source_app', 'organizations', 'SELECT'],
            ['source_app', 'outbox', 'INSERT'],
            ['source_app', 'teams', 'DELETE'],
            ['source_app', 'teams', 'INSERT'],
            ['source_app', 'teams', 'SELECT'],
            ['source_app', 'teams', 'UPDATE'],
            ['source_app', 'tombstones', 'INSERT'],
            ['source_app', 'tombstones', 'SELECT'],
            ['source_app', 'users', 'DELETE'],
            ['source_app', 'users', 'INSERT'],
            ['source_app', 'users', 'SELECT'],
            ['source_app', 'users', 'UPDATE'],
          ]
        : [
            ['consumer_app', 'synced_teams', 'DELETE'],
            ['consumer_app', 'synced_teams', 'INSERT'],
            ['consumer_app', 'synced_teams', 'SELECT'],
            ['consumer_app', 'synced_teams', 'UPDATE'],
            ['consumer_app', 'synced_users', 'DELETE'],
            ['consumer_app', 'synced_users', 'INSERT'],
            ['consumer_app', 'synced_users', 'SELECT'],
            ['consumer_app', 'synced_users', 'UPDATE'],
          ];
    expect(grants.map((grant) => [grant.role, grant.table, grant.privilege])).toEqual(expected);
    if (database === 'source') {
      // The app writes outbox rows through its trigger only: never the relay's state or the event id.
      const columns = await sql<{ name: string }[]>`
        SELECT attname AS name FROM pg_attribute
        WHERE attrelid = 'outbox'::regclass AND attnum > 0 AND NOT attisdropped AND has_column_privilege('source_app', attrelid, attnum, 'INSERT')
        ORDER BY attnum`;
      expect(columns.map((column) => column.name)).toEqual(['org_id', 'aggregate_type', 'aggregate_id', 'action', 'version', 'traceparent']);
      // Tombstones are written by the delete trigger: the app cannot choose when one was made.
      const tombstoneColumns = await sql<{ name: string }[]>`
        SELECT attname AS name FROM pg_attribute
        WHERE attrelid = 'tombstones'::regclass AND attnum > 0 AND NOT attisdropped AND has_column_privilege('source_app', attrelid, attnum, 'INSERT')
        ORDER BY attnum`;
      expect(tombstoneColumns.map((column) => column.name)).toEqual(['org_id', 'entity_type', 'id', 'version']);
      // The one cross-tenant read of the source database: an org's status, through a function only the app may run.
      const [fn] = await sql<{ definer: boolean; callers: string[]; returns: string }[]>`
        SELECT p.prosecdef AS definer, format_type(p.prorettype, NULL) AS returns,
               ARRAY(SELECT rolname FROM pg_roles WHERE has_function_privilege(oid, p.oid, 'EXECUTE') AND rolname = ANY (${allAppRoles})) AS callers
        FROM pg_proc p WHERE p.proname = 'organization_status'`;
      expect(fn).toEqual({ definer: true, returns: 'text', callers: ['source_app'] });
    } else {
      // The one cross-tenant read of the consumer database: tenant ids, through a function only the app may run.
      const [fn] = await sql<{ definer: boolean; callers: string[] }[]>`
        SELECT p.prosecdef AS definer,
               ARRAY(SELECT rolname FROM pg_roles WHERE has_function_privilege(oid, p.oid, 'EXECUTE') AND rolname = ANY (${allAppRoles})) AS callers
        FROM pg_proc p WHERE p.proname = 'synced_tenants'`;
      expect(fn).toEqual({ definer: true, callers: ['consumer_app'] });
    }
  });

  it('pins search_path in every function, and no SECURITY DEFINER function is owned by a role that bypasses RLS', async () => {
    const functions = await sql<{ name: string; definer: boolean; config: string[] | null; ownerBypasses: boolean }[]>`
      SELECT p.proname AS name, p.prosecdef AS definer, p.proconfig AS config, (r.rolsuper OR r.rolbypassrls) AS "ownerBypasses"
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
      WHERE n.nspname = 'public'`;
    for (const fn of functions) {
      expect(fn.config?.some((setting) => setting.startsWith('search_path=')), fn.name).toBe(true);
      if (fn.definer) expect(fn.ownerBypasses, fn.name).toBe(false);
    }
  });

  it('has no view that would run with its owner rights', async () => {
    const views = await sql<{ name: string; options: string[] | null }[]>`
      SELECT c.relname AS name, c.reloptions AS options FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')`;
    for (const view of views) expect(view.options ?? [], view.name).toContain('security_invoker=true');
  });
});
