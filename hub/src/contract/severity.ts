/**
 * Severities and their one rank: tickets, alerts, rules, elevator codes, the console and the
 * Node-RED nodes (through the generated flows/nodes/lib/contract.gen.js) all compare through it.
 * No imports: the console bundles this file.
 */
export const SEVERITIES = ['critical', 'major', 'minor', 'warning'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  warning: 0,
  minor: 1,
  major: 2,
  critical: 3,
};

/** Is `a` more severe than `b`? */
export const moreSevere = (a: Severity, b: Severity): boolean => SEVERITY_RANK[a] > SEVERITY_RANK[b];

/** Is `a` at least as severe as `b`? */
export const atLeast = (a: Severity, b: Severity): boolean => SEVERITY_RANK[a] >= SEVERITY_RANK[b];

/** The more severe of two. */
export const worse = (a: Severity, b: Severity): Severity => (moreSevere(b, a) ? b : a);
