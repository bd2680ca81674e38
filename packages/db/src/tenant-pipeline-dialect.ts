import { CompiledQuery, type DatabaseConnection, type QueryResult, type TransactionSettings } from 'kysely';
import { PostgresJSDialect, PostgresJSDriver } from 'kysely-postgres-js';

/** How the first statement of a tenant transaction begins (`withTenant`). */
const TENANT_SETTING_PREFIX = "select set_config('app.current_tenant'";

/**
 * A tenant transaction's BEGIN and its `set_config` of the tenant in one write and one round
 * trip, where they took two. Every Reference API call, every write of the source and every
 * round of the consumer is a tenant transaction of three or four round trips, and on a busy
 * machine each costs a wake-up of the PostgreSQL backend and of the app.
 *
 * BEGIN is sent and not awaited; the transaction's first statement follows at once, and the
 * driver (postgres.js) writes what one tick queued together. The statement's answer is returned
 * only once BEGIN's is in, and a failed BEGIN fails it. Only a tenant setting is sent that way:
 * had BEGIN failed, it would have run alone, changing nothing that outlives its statement, and
 * the work after it never runs. Any other first statement waits for BEGIN as before.
 */
class TenantPipelineDriver extends PostgresJSDriver {
  readonly #begins = new WeakMap<DatabaseConnection, Promise<QueryResult<unknown>>>();

  override async acquireConnection(options?: Parameters<PostgresJSDriver['acquireConnection']>[0]): ReturnType<PostgresJSDriver['acquireConnection']> {
    const connection = await super.acquireConnection(options);
    const execute = connection.executeQuery.bind(connection);
    connection.executeQuery = async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
      const begun = this.#begins.get(connection);
      if (!begun) return execute<R>(query);
      this.#begins.delete(connection);
      if (!query.sql.startsWith(TENANT_SETTING_PREFIX)) {
        await begun;
        return execute<R>(query);
      }
      const answer = execute<R>(query);
      const [, result] = await Promise.all([begun, answer]);
      return result;
    };
    return connection;
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) return super.beginTransaction(connection, settings);
    const begun = connection.executeQuery(CompiledQuery.raw('begin'));
    // Awaited with the next statement; a rejection seen only there is not unhandled here.
    begun.catch(() => {});
    this.#begins.set(connection, begun);
  }
}

/** The postgres.js dialect of kysely, with tenant transactions one round trip shorter. */
export class TenantPipelineDialect extends PostgresJSDialect {
  readonly #config: ConstructorParameters<typeof PostgresJSDialect>[0];

  constructor(config: ConstructorParameters<typeof PostgresJSDialect>[0]) {
    super(config);
    this.#config = config;
  }

  override createDriver(): TenantPipelineDriver {
    return new TenantPipelineDriver(this.#config);
  }
}
