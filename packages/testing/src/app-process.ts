import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { workspaceRoot, waitFor } from '@tenant-sync/local-infra';

export interface AppProcess {
  name: string;
  child: ChildProcess;
  /** Its operations port: /metrics, /health/live, /health/ready. */
  opsPort: number;
  /** Every line the app wrote so far, parsed when it is JSON. */
  logLines(): Array<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Runs an app's real entry point (`apps/<name>/src/main.ts`) as a child process with `env`
 * on top of the current environment, and waits until its `/health/ready` answers 200 on
 * `opsPort`. The process is stopped by `stop()`, and killed if the test runner exits first.
 */
export async function startApp(name: 'source' | 'relay' | 'consumer' | 'console', env: Record<string, string>, opsPort: number): Promise<AppProcess> {
  const child = spawn(process.execPath, [path.join(workspaceRoot, 'apps', name, 'src', 'main.ts')], {
    cwd: workspaceRoot,
    // JSON logs whatever the shell exports: tests parse them.
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', OPS_PORT: String(opsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let exitCode: number | null | undefined;
  let exitSignal: string | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exitSignal = signal;
      resolve((exitCode = code));
    }),
  );

  const app: AppProcess = {
    name,
    child,
    opsPort,
    logLines: () =>
      lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return { raw: line };
        }
      }),
    async stop(graceMs = 15_000) {
      process.off('exit', killOnExit);
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };

  try {
    await waitFor(
      `${name} to be ready on :${opsPort}`,
      async () => {
        if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode ?? exitSignal}:\n${lines.slice(-20).join('\n')}`);
        const response = await fetch(`http://127.0.0.1:${opsPort}/health/ready`).catch(() => null);
        return response?.status === 200;
      },
      60_000,
    );
  } catch (error) {
    await app.stop(1_000);
    throw error;
  }
  return app;
}
