import { Type, type Static } from 'typebox';
import { kafka, kafkaSecurity, postgresUrl } from './fields.ts';
import { databasePasswordFile, withDatabasePassword } from './database-password.ts';
import { withKafkaSecurity, type KafkaSecurityConfig } from './kafka-security.ts';
import { loadConfig } from './load-config.ts';

/** The admin CLI (`npm run tenant`): the operator's own database role, and Kafka for dead letters. */
export const operatorConfigSchema = Type.Object({
  ...kafka,
  ...kafkaSecurity,
  OPERATOR_DATABASE_URL: postgresUrl('postgres://tenant_operator@127.0.0.1:5432/source_db'),
  ...databasePasswordFile('tenant_operator'),
});

export type OperatorConfig = Readonly<Static<typeof operatorConfigSchema> & KafkaSecurityConfig>;

export const loadOperatorConfig = (env: NodeJS.ProcessEnv = process.env): OperatorConfig => withKafkaSecurity(withDatabasePassword(loadConfig(operatorConfigSchema, env), 'OPERATOR_DATABASE_URL'), env);
