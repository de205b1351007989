import type { OutboxEntry } from '@synddb/state-store';

/**
 * Tries every unsigned outbox entry once, in windows of `batchSize`. Entries that were tried (or
 * left alone: `trySign` returns undefined) stay unsigned, so they keep showing up at the head of
 * `unsigned(limit)`; when a whole window is made of them, the window widens until it reaches past
 * the last unsigned entry. Every pass either tries a new entry or widens the window, so the loop
 * ends. `trySign` returns true when it signed the entry, false when signing failed.
 */
export function signOutboxEntries(
  unsigned: (limit: number) => readonly OutboxEntry[],
  trySign: (entry: OutboxEntry) => boolean | undefined,
  batchSize: number,
): { signed: number; failed: number } {
  let signed = 0;
  let failed = 0;
  const passed = new Set<string>();
  let limit = batchSize;
  for (;;) {
    const entries = unsigned(limit);
    let progressed = false;
    for (const entry of entries) {
      if (passed.has(entry.messageId)) continue;
      passed.add(entry.messageId);
      const outcome = trySign(entry);
      if (outcome === undefined) continue;
      progressed = true;
      if (outcome) signed++;
      else failed++;
    }
    if (entries.length < limit) break;
    if (!progressed) limit += batchSize;
  }
  return { signed, failed };
}
