import { X509Certificate, createPublicKey } from 'node:crypto';
import { invalid } from '../../core/errors.js';
import type { AuthorisationList, ListEntry } from './list-schema.js';

export interface ListProblem {
  path: string;
  message: string;
}

/** Clock difference tolerated between the authority and medward. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Checks what the schema cannot: unique entry ids, device identities and
 * bootstrap secrets; readable PEM certificates and keys; ordered validity
 * periods. Throws AUTHORISATION_LIST_INVALID naming up to ten problems.
 */
export function checkListContents(list: AuthorisationList): void {
  const problems: ListProblem[] = [];
  if (Date.parse(list.expiresAt) <= Date.parse(list.issuedAt)) {
    problems.push({ path: '/list/expiresAt', message: 'expiresAt must be after issuedAt' });
  }
  const entryIds = new Map<string, number>();
  const identities = new Map<string, number>();
  const secrets = new Map<string, number>();
  list.devices.forEach((entry, index) => {
    const path = `/list/devices/${index}`;
    const duplicateOf = (seen: Map<string, number>, key: string, what: string): void => {
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, index);
      } else {
        problems.push({ path, message: `${what} repeats that of /list/devices/${first}` });
      }
    };
    duplicateOf(entryIds, entry.entryId, `entryId ${entry.entryId}`);
    duplicateOf(
      identities,
      identityKey(entry),
      `device ${entry.manufacturer} ${entry.model} ${entry.serialNumber}`,
    );
    if (entry.birthIdentity.kind === 'bootstrap-secret') {
      duplicateOf(secrets, entry.birthIdentity.secretSha256, 'bootstrap secret hash');
    }
    problems.push(...birthIdentityProblems(entry, path));
    if (
      entry.validFrom !== undefined &&
      entry.validUntil !== undefined &&
      Date.parse(entry.validUntil) <= Date.parse(entry.validFrom)
    ) {
      problems.push({ path: `${path}/validUntil`, message: 'validUntil must be after validFrom' });
    }
    if (
      entry.lifeSustaining === true &&
      entry.criticality !== undefined &&
      entry.criticality !== 'critical'
    ) {
      problems.push({
        path: `${path}/criticality`,
        message: 'a life-sustaining device must have criticality critical',
      });
    }
  });
  const revoked = new Set<string>();
  (list.revocations ?? []).forEach((revocation, index) => {
    const key = identityKey(revocation);
    if (revoked.has(key)) {
      problems.push({ path: `/list/revocations/${index}`, message: 'device is revoked twice' });
    }
    revoked.add(key);
    if (identities.has(key)) {
      problems.push({
        path: `/list/revocations/${index}`,
        message: `device is also authorised at /list/devices/${identities.get(key) ?? 0}`,
      });
    }
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 10);
    throw invalid(
      'AUTHORISATION_LIST_INVALID',
      `authorisation list ${list.listId} version ${list.version} is invalid: ` +
        shown.map((problem) => `${problem.path}: ${problem.message}`).join('; '),
      { problems: shown, problemCount: problems.length },
    );
  }
}

function birthIdentityProblems(entry: ListEntry, path: string): ListProblem[] {
  const identity = entry.birthIdentity;
  const problems: ListProblem[] = [];
  if (identity.kind === 'idevid') {
    identity.trustAnchors.forEach((pem, index) => {
      try {
        const certificate = new X509Certificate(pem);
        if (!certificate.ca) {
          problems.push({
            path: `${path}/birthIdentity/trustAnchors/${index}`,
            message: 'trust anchor is not a CA certificate (basicConstraints cA is false)',
          });
        }
      } catch (error) {
        problems.push({
          path: `${path}/birthIdentity/trustAnchors/${index}`,
          message: `not a PEM certificate: ${(error as Error).message}`,
        });
      }
    });
  } else if (identity.kind === 'public-key') {
    try {
      createPublicKey(identity.publicKey);
    } catch (error) {
      problems.push({
        path: `${path}/birthIdentity/publicKey`,
        message: `not a PEM public key: ${(error as Error).message}`,
      });
    }
  }
  return problems;
}

/** Returns the key under which a device identity is unique: manufacturer, model and serial number. */
export function identityKey(identity: {
  manufacturer: string;
  model: string;
  serialNumber: string;
}): string {
  return JSON.stringify([identity.manufacturer, identity.model, identity.serialNumber]);
}
