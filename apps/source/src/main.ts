import { configOrExit, loadSourceConfig } from '@tenant-sync/config';
import { keepShortLivedObjectsYoung, onShutdownSignal } from '@tenant-sync/ops';
import { buildSource } from './source.ts';

keepShortLivedObjectsYoung();

const config = configOrExit('source', () => loadSourceConfig());
const source = await buildSource(config);
onShutdownSignal(source.logger, () => source.stop());
await source.start();
