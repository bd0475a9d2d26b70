/** Remove an API key from any text before it reaches a log line or an error message. */
export function redactKey(text: string, key: string): string {
  if (!key || key.length < 4) return text;
  return text.split(key).join('[redacted]');
}
