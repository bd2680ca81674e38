import { configOrExit, loadRelayConfig } from '@tenant-sync/config';
import { keepShortLivedObjectsYoung, onShutdownSignal } from '@tenant-sync/ops';
import { buildRelay } from './relay-app.ts';

keepShortLivedObjectsYoung();

const config = configOrExit('relay', () => loadRelayConfig());
const relay = await buildRelay(config);
onShutdownSignal(relay.logger, () => relay.stop());
await relay.start();
