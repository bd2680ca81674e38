/**
 * Gathers the calls made for one key within `windowMs` and serves them with one run of
 * `serve`, which answers each call in order. The consumer handles the batches of all its
 * partitions side by side, so one tenant's work arrives from several batches at about the same
 * time; done once instead of per batch, it costs one Reference API call or one transaction
 * instead of six. A failed run fails every call it served; each caller retries on its own.
 */
export function coalesce<In, Out>(
  serve: (key: string, inputs: In[]) => Promise<Out[]>,
  { windowMs = 2 }: { windowMs?: number } = {},
): (key: string, input: In) => Promise<Out> {
  const pending = new Map<string, Array<{ input: In; resolve: (output: Out) => void; reject: (error: unknown) => void }>>();

  async function flush(key: string): Promise<void> {
    const calls = pending.get(key) ?? [];
    pending.delete(key);
    try {
      const outputs = await serve(
        key,
        calls.map((call) => call.input),
      );
      calls.forEach((call, index) => call.resolve(outputs[index] as Out));
    } catch (error) {
      for (const call of calls) call.reject(error);
    }
  }

  return (key, input) =>
    new Promise<Out>((resolve, reject) => {
      let calls = pending.get(key);
      if (!calls) {
        calls = [];
        pending.set(key, calls);
        setTimeout(() => void flush(key), windowMs);
      }
      calls.push({ input, resolve, reject });
    });
}
