import { useEffect, useState } from 'preact/hooks';
import { type Reply, request } from './api.ts';

/** Sites in the signed-in person's jurisdiction, by id (for names and pickers). */
export function useSites(): Map<string, string> {
  const [sites, setSites] = useState(new Map<string, string>());
  useEffect(() => {
    request('get', '/sites')
      .then((list) => setSites(new Map(list.map((s) => [s.id, s.name]))))
      .catch(() => undefined);
  }, []);
  return sites;
}

export type GridNode = Reply<'/grid/nodes', 'get'>[number];

/** The grid nodes in the signed-in person's jurisdiction. */
export function useGridNodes(): GridNode[] {
  const [nodes, setNodes] = useState<GridNode[]>([]);
  useEffect(() => {
    request('get', '/grid/nodes')
      .then(setNodes)
      .catch(() => undefined);
  }, []);
  return nodes;
}

/** The current time, ticking (elapsed times on the alarm board). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(id);
  }, [everyMs]);
  return now;
}
