/**
 * Cooperative yielding for long loops on the event loop that also serves alarms (DESIGN.md: no
 * request or batch blocks it for more than 50 ms). `await slice()` costs nothing until the loop has
 * run for `budgetMs`, then lets timers, sockets and the life-safety lane run before going on.
 */
export function timeSlicer(budgetMs = 5): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < budgetMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}
