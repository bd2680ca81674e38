export { ConfigError } from './errors.ts';
export { splitList, workspaceRoot } from './fields.ts';
export { configOrExit, loadConfig } from './load-config.ts';
export { loadConsoleConfig, consoleConfigSchema, type ConsoleConfig } from './console.ts';
export { loadConsumerConfig, consumerConfigSchema, type ConsumerConfig } from './consumer.ts';
export { loadOperatorConfig, operatorConfigSchema, type OperatorConfig } from './operator.ts';
export { loadRelayConfig, relayConfigSchema, type RelayConfig } from './relay.ts';
export { loadSourceConfig, sourceConfigSchema, type SourceConfig } from './source.ts';
export { developmentPasswords } from './database-password.ts';
