import { configOrExit, loadConsumerConfig } from '@tenant-sync/config';
import { onShutdownSignal } from '@tenant-sync/ops';
import { buildConsumer } from './consumer.ts';

const config = configOrExit('consumer', () => loadConsumerConfig());
const consumer = await buildConsumer(config);
onShutdownSignal(consumer.logger, () => consumer.stop());
await consumer.start();
