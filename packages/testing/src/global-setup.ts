import type { TestProject } from 'vitest/node';
import { startTestInfrastructure } from './infrastructure.ts';

/** Vitest global setup: one real PostgreSQL and Kafka for the test run, removed after it. */
export default async function setup(project: TestProject) {
  const { infra, stop } = await startTestInfrastructure();
  project.provide('infra', infra);
  return stop;
}
