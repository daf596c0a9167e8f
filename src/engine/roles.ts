// Roles (docs/PROTOCOL.md ROLE-*): what a member may do, as a function of the membership ops in
// a frontier's causal past, never of wall time. The values are the wire's (schemas/payload.fbs
// `Role`); this file is their one definition in the engine, with their names for hosts.

import { CALENDAR_ENTITY } from './ids.ts';

/** ROLE-1: the wire values of the `role` field (schemas/payload.fbs). */
export const Role = { Unstated: 0, Viewer: 1, Editor: 2, Manager: 3 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** A role a member has (never Unstated: that reads as Manager, ROLE-1). */
export type MemberRole = Exclude<Role, typeof Role.Unstated>;

/** Names hosts use (API, UI), in rank order. */
export const ROLE_NAMES = ['viewer', 'editor', 'manager'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

const BY_NAME: Record<RoleName, MemberRole> = {
  viewer: Role.Viewer,
  editor: Role.Editor,
  manager: Role.Manager,
};

export const isRoleName = (s: unknown): s is RoleName =>
  typeof s === 'string' && (ROLE_NAMES as readonly string[]).includes(s);

export const roleFromName = (n: RoleName): MemberRole => BY_NAME[n];

export const roleName = (r: MemberRole): RoleName => ROLE_NAMES[r - 1]!;

/** ROLE-1: a stated role as it counts; Unstated (ops of builds before roles) is Manager. */
export const effectiveRole = (r: Role): MemberRole => (r === Role.Unstated ? Role.Manager : r);

/** ROLE-2: a value the enum defines. */
export const isRoleValue = (n: number): n is Role => Number.isInteger(n) && n >= 0 && n <= Role.Manager;

export const isMemberRole = (n: unknown): n is MemberRole =>
  n === Role.Viewer || n === Role.Editor || n === Role.Manager;

/** ROLE-4: what a member of a role may write. */
export const canWriteEvents = (r: MemberRole): boolean => r >= Role.Editor;
export const canManage = (r: MemberRole): boolean => r === Role.Manager;

/**
 * ROLE-4, ROLE-8 for a local write to `entities`, checked before anything is written: validation
 * would refuse a viewer's Patch, and a non-manager's write to the calendar's own fields would be
 * stored and inert. Null when allowed (or not a member: the caller says NotMember).
 */
export function writeDenied(role: MemberRole | undefined, entities: readonly string[]): string | null {
  if (role === undefined) return null;
  if (!canWriteEvents(role)) return 'this device can only view this calendar';
  if (!canManage(role) && entities.includes(CALENDAR_ENTITY))
    return "only a manager changes the calendar's name, colour and settings";
  return null;
}
