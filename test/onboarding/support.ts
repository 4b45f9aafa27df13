import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { isMedwardError } from '../../src/core/errors.js';
import { OnboardingSection, type OnboardingConfig } from '../../src/onboarding/config.js';
import {
  AUTHORISATION_LIST_FORMAT,
  hashSecret,
  loadAuthorityKeys,
  signList,
  type AuthorisationList,
  type AuthorityKey,
  type ListEntry,
} from '../../src/onboarding/authorisation/index.js';

/** Builds the onboarding section from partial YAML-like input, with the schema's defaults. */
export function onboardingConfig(partial: Record<string, unknown> = {}): OnboardingConfig {
  const value = Value.Default(OnboardingSection, structuredClone(partial));
  if (!Value.Check(OnboardingSection, value)) {
    const first = [...Value.Errors(OnboardingSection, value)][0];
    throw new Error(`test configuration invalid at ${first?.path}: ${first?.message}`);
  }
  return value;
}

/** A temporary directory removed by the returned function. */
export function temporaryDirectory(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'medward-onboarding-'));
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export function assertMedwardError(error: unknown, code: string): true {
  assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return true;
}

export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => assertMedwardError(error, code));
}

export function throwsWithCode(run: () => unknown, code: string): void {
  assert.throws(run, (error: unknown) => assertMedwardError(error, code));
}

export interface TestAuthority {
  privateKey: KeyObject;
  publicKeyFile: string;
  keys: AuthorityKey[];
}

/** Creates an authority key pair (Ed25519 unless `curve` is given) and writes the public key to `directory`. */
export function createAuthority(
  directory: string,
  curve?: 'prime256v1' | 'secp384r1',
): TestAuthority {
  const { privateKey, publicKey } =
    curve === undefined
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: curve });
  const publicKeyFile = join(directory, `authority-${curve ?? 'ed25519'}.pub.pem`);
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKeyFile, keys: loadAuthorityKeys([publicKeyFile]) };
}

export function secretEntry(
  serialNumber: string,
  secret: string,
  overrides: Partial<ListEntry> = {},
): ListEntry {
  return {
    entryId: `entry-${serialNumber}`,
    manufacturer: 'Lumen Pumps GmbH',
    model: 'LP-420',
    serialNumber,
    birthIdentity: { kind: 'bootstrap-secret', secretSha256: hashSecret(secret) },
    deviceClass: 'infusion-pump',
    ...overrides,
  };
}

export function buildList(overrides: Partial<AuthorisationList> = {}): AuthorisationList {
  const now = Date.now();
  return {
    format: AUTHORISATION_LIST_FORMAT,
    formatVersion: 1,
    listId: 'ward-7',
    version: 1,
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 86_400_000).toISOString(),
    authority: 'Biomedical Engineering',
    devices: [],
    revocations: [],
    ...overrides,
  };
}

export function signedListText(list: AuthorisationList, authority: TestAuthority): string {
  return JSON.stringify(signList(list, authority.privateKey));
}
