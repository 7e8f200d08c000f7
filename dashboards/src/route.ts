import { useEffect, useState } from 'preact/hooks';

/** Hash routes (#/tickets/T-1): static hosting needs no server fallback, links survive reloads. */
export function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('?')[0]?.split('/').filter(Boolean) ?? [];
  const [parts, setParts] = useState(parse);
  useEffect(() => {
    const on = () => setParts(parse());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parts.map(decodeURIComponent);
}

export const go = (path: string) => {
  location.hash = `#/${path}`;
};
