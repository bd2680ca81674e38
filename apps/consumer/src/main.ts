import { configOrExit, loadConsumerConfig } from '@tenant-sync/config';
import { keepShortLivedObjectsYoung, onShutdownSignal } from '@tenant-sync/ops';
import { buildConsumer } from './consumer.ts';

keepShortLivedObjectsYoung();

const config = configOrExit('consumer', () => loadConsumerConfig());
const consumer = await buildConsumer(config);
onShutdownSignal(consumer.logger, () => consumer.stop());
await consumer.start();
