/**
 * API roles. A token carries one or more roles, and each API route names the
 * roles it admits; admin is admitted everywhere.
 *
 * - admin: everything, including creating, listing and revoking API tokens.
 * - operator: reads and changes the device inventory; reads metrics.
 * - auditor: read-only. Reads devices, API tokens (never their secrets), the
 *   audit trail and its verification, and metrics.
 */
export const Role = {
  Admin: 'admin',
  Operator: 'operator',
  Auditor: 'auditor',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const allRoles: readonly Role[] = [Role.Admin, Role.Operator, Role.Auditor];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (allRoles as readonly string[]).includes(value);
}

/** Whether a caller with `held` roles may use something open to `allowed` (admin always may). */
export function hasAnyRole(held: readonly Role[], allowed: readonly Role[]): boolean {
  return held.includes(Role.Admin) || held.some((role) => allowed.includes(role));
}
