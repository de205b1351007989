/**
 * Whether this Node's node:sqlite can enforce read-only queries: the query workers need
 * `DatabaseSync#setAuthorizer` (Node >= 24.10). Without it every worker reports
 * `QUERY_UNAVAILABLE`; an application can check first and run without queries instead.
 */
export async function hasSqliteAuthorizer(): Promise<boolean> {
  try {
    const { DatabaseSync } = await import('node:sqlite');
    return (
      typeof (DatabaseSync.prototype as { setAuthorizer?: unknown }).setAuthorizer === 'function'
    );
  } catch {
    return false;
  }
}
