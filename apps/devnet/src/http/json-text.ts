const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * JSON.stringify that writes bigints as plain JSON numbers (u64 sequences stay exact, as serde
 * writes them) instead of throwing.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? rawJson(v.toString()) : v,
  );
}

/** A JSON response with bigint-safe serialization. */
export function jsonResponse(
  value: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(jsonText(value), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
