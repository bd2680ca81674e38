import path from 'node:path';

export const workspaceRoot = path.resolve(import.meta.dirname, '../../..');

/** Git-ignored folder for everything local infrastructure keeps: jars, data, logs. */
export const localDir = path.join(workspaceRoot, '.local');
