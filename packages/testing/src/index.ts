export { startTestInfrastructure, testTenants, type TestInfrastructure } from './infrastructure.ts';
export { certsDir, mintToken, type TokenOptions } from './tokens.ts';
export { eventually } from './eventually.ts';
export { readTopic, type ReadMessage } from './read-topic.ts';
export { startApp, type AppProcess } from './app-process.ts';
export { describeMachine, type MachineSummary } from './machine.ts';
export { histogramQuantiles, scrapeMetrics, stageRows, type Quantiles } from './histograms.ts';
export { startSystem, type RunningSystem, type SystemOptions } from './system.ts';
export { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.ts';
