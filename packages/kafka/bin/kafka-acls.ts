// Prints the kafka-acls.sh commands that give tenant-sync's principals what they need and no
// more (docs/deploy.md, "Securing Kafka"). Review the output, then run it where Kafka's tools are:
//   node packages/kafka/bin/kafka-acls.ts --bootstrap-server kafka-1:9093 --command-config admin.properties > acls.sh
//   KAFKA_HOME=/opt/kafka bash acls.sh
import { parseArgs } from 'node:util';
import { aclCommandArgs, tenantSyncAcls } from '../src/acls.ts';

const usage = `usage: node packages/kafka/bin/kafka-acls.ts --bootstrap-server <host:port> --command-config <file> [options]

  --topic <name>          an events topic, once per entity type (default: user-events and team-events);
                          its dead-letter topic <name>.dlq is covered too
  --group <id>            the consumers' KAFKA_GROUP_ID (default: tenant-sync-consumer)
  --relay <principal>     default User:relay
  --consumer <principal>  default User:consumer
  --operator <principal>  default User:operator
  --console <principal>   the web console's user, when the console runs (e.g. User:console)
  --create-topics         also let relay and consumer create their topics (KAFKA_CREATE_TOPICS=true)

Prints a shell script of kafka-acls.sh commands (\${KAFKA_HOME}/bin/kafka-acls.sh) on stdout.`;

let options;
try {
  options = parseArgs({
    options: {
      'bootstrap-server': { type: 'string' },
      'command-config': { type: 'string' },
      topic: { type: 'string', multiple: true },
      group: { type: 'string', default: 'tenant-sync-consumer' },
      relay: { type: 'string', default: 'User:relay' },
      consumer: { type: 'string', default: 'User:consumer' },
      operator: { type: 'string', default: 'User:operator' },
      console: { type: 'string' },
      'create-topics': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}
const bootstrap = options['bootstrap-server'];
const commandConfig = options['command-config'];
if (!bootstrap || !commandConfig) {
  console.error(`--bootstrap-server and --command-config are required\n\n${usage}`);
  process.exit(2);
}

const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
const rules = tenantSyncAcls({
  principals: { relay: options.relay, consumer: options.consumer, operator: options.operator, console: options.console },
  eventTopics: options.topic ?? ['user-events', 'team-events'],
  consumerGroup: options.group,
  createTopics: options['create-topics'],
});
const lines = ['#!/usr/bin/env bash', '# tenant-sync ACLs (packages/kafka/bin/kafka-acls.ts); idempotent: adding an ACL twice keeps one.', 'set -euo pipefail'];
for (const rule of rules) {
  lines.push('', `# ${rule.principal}: ${rule.why}`);
  lines.push(['"${KAFKA_HOME:?set KAFKA_HOME}/bin/kafka-acls.sh"', '--bootstrap-server', bootstrap, '--command-config', commandConfig, ...aclCommandArgs(rule)].map((word, index) => (index === 0 ? word : quote(word))).join(' '));
}
console.log(lines.join('\n'));
