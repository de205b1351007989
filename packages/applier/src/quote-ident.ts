/** An SQL identifier in double quotes (embedded quotes doubled), for any table or column name. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
