/** The outcome of one item's work: its value, or the error it threw (kept, so order is preserved). */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Runs `work` over `items` with at most `window` calls in flight and yields the outcomes in input order.
 * At most `window` results wait in memory, whatever the number of items, so a consumer that falls behind
 * stops the decoding instead of piling it up. Errors are yielded, not thrown, so the caller decides.
 */
export async function* prefetchInOrder<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
  window: number,
): AsyncGenerator<Settled<R>> {
  const size = Math.max(1, Math.floor(window));
  const pending: Promise<Settled<R>>[] = [];
  const start = (item: T) =>
    pending.push(
      work(item).then(
        (value): Settled<R> => ({ ok: true, value }),
        (error): Settled<R> => ({ ok: false, error }),
      ),
    );
  let next = 0;
  while (next < items.length && pending.length < size) start(items[next++]);
  while (pending.length > 0) {
    const settled = await pending.shift()!;
    if (next < items.length) start(items[next++]);
    yield settled;
  }
}
