/**
 * The rules engine's lanes (issue 13): life-safety work is served before ordinary work, round-robin
 * across devices, so one device raising alarms in a loop cannot hold back another device's first
 * alarm; ordinary work keeps its arrival order, also across a long backlog.
 */
import { describe, expect, it } from 'vitest';
import { type Lane, LaneQueue } from '../../src/rules/lanes.ts';

interface Item {
  lane: Lane;
  key: string;
  n: string;
}
const item = (lane: Lane, key: string, n: string): Item => ({ lane, key, n });

describe('rules lanes', () => {
  it('serves life-safety first, round-robin per device, then ordinary in arrival order', () => {
    const q = new LaneQueue<Item>();
    q.push(item('ordinary', 'a', 'o1'));
    for (let i = 0; i < 5; i++) q.push(item('life-safety', 'flood', `f${i}`));
    q.push(item('ordinary', 'b', 'o2'));
    q.push(item('life-safety', 'button', 'press'));
    expect(q.lifeSafetySize).toBe(6);
    expect(q.ordinarySize).toBe(2);
    const order: string[] = [];
    for (let next = q.shift(); next; next = q.shift()) order.push(next.n);
    // the button's press comes second, not behind the flooding device's five alarms
    expect(order).toEqual(['f0', 'press', 'f1', 'f2', 'f3', 'f4', 'o1', 'o2']);
    expect(q.size).toBe(0);
  });

  it('keeps a long ordinary backlog in order, and knows which devices have life-safety work', () => {
    const q = new LaneQueue<Item>();
    for (let i = 0; i < 5000; i++) q.push(item('ordinary', `d${i % 7}`, String(i)));
    q.push(item('life-safety', 'd3', 'alarm'));
    expect(q.hasLifeSafety('d3')).toBe(true);
    expect(q.hasLifeSafety('d4')).toBe(false);
    expect(q.shift()?.n).toBe('alarm');
    expect(q.hasLifeSafety('d3')).toBe(false);
    const seen: number[] = [];
    for (let next = q.shift(); next; next = q.shift()) seen.push(Number(next.n));
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('drops queued items by a predicate and keeps the rest in order', () => {
    const q = new LaneQueue<Item>();
    q.push(item('ordinary', 'a', 'keep-1'));
    q.push(item('ordinary', 'a', 'drop-1'));
    q.push(item('life-safety', 'b', 'drop-2'));
    q.push(item('life-safety', 'b', 'keep-2'));
    q.push(item('ordinary', 'a', 'keep-3'));
    const dropped = q.drop((i) => i.n.startsWith('drop'));
    expect(dropped.map((i) => i.n).sort()).toEqual(['drop-1', 'drop-2']);
    expect(q.size).toBe(3);
    expect([q.shift()?.n, q.shift()?.n, q.shift()?.n]).toEqual(['keep-2', 'keep-1', 'keep-3']);
  });
});
