/**
 * Does an MQTT topic filter match a topic name (MQTT 3.1.1 §4.7: `+` one level, `#` the rest and
 * the parent; filters starting with a wildcard never match `$` topics, MQTT-4.7.2-1)?
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
