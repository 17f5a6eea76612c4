// What one `interslice serve` process does. Embedded, one process has all three; clustered
// (cluster.database), receivers, workers and senders can run apart (README "Scaling out").
export type Role = 'receive' | 'process' | 'send';
export const ALL_ROLES: readonly Role[] = ['receive', 'process', 'send'];

/** Parses "receive,process" (commander's --roles); throws on an unknown or empty list. */
export function parseRoles(v: string): Role[] {
  const roles = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = roles.filter((r) => !(ALL_ROLES as readonly string[]).includes(r));
  if (bad.length || roles.length === 0) throw new Error(`roles are receive, process and send (comma-separated); got "${v}"`);
  return ALL_ROLES.filter((r) => roles.includes(r));
}
