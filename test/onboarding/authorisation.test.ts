import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.js';
import {
  AuthorisationService,
  AuthorityPoller,
  AuthorityServer,
  MANUAL_LIST_ID,
  ensureAuthorityTls,
  etagMatches,
  signList,
  verifyEnvelope,
} from '../../src/onboarding/authorisation/index.js';
import { CrlReason } from '../../src/onboarding/ca/index.js';
import { createTestDatabase } from '../support/storage.js';
import { createCoreHarness, settle, type CoreHarness } from './core-harness.js';
import {
  buildList,
  createAuthority,
  onboardingConfig,
  rejectsWithCode,
  secretEntry,
  signedListText,
  throwsWithCode,
} from './support.js';

const source = { kind: 'file' as const, location: 'test' };

describe('list signature', () => {
  let harness: CoreHarness;
  beforeEach(async () => {
    harness = await createCoreHarness();
  });
  afterEach(async () => {
    await harness.dispose();
  });

  test('ECDSA signatures verify', () => {
    for (const curve of ['prime256v1', 'secp384r1'] as const) {
      const authority = createAuthority(harness.directory.path, curve);
      const verified = verifyEnvelope(signedListText(buildList(), authority), authority.keys);
      assert.equal(verified.key.algorithm, curve === 'prime256v1' ? 'ES256' : 'ES384');
      assert.equal(verified.list.listId, 'ward-7');
    }
  });

  test('forged list rejected', () => {
    const envelope = signList(
      buildList({ devices: [secretEntry('SN-1', 's'.repeat(32))] }),
      harness.authority.privateKey,
    );
    const forged = structuredClone(envelope) as { list: { devices: { serialNumber: string }[] } };
    const first = forged.list.devices[0];
    assert.ok(first);
    first.serialNumber = 'SN-EVIL';
    throwsWithCode(
      () =>
        verifyEnvelope(JSON.stringify({ ...envelope, list: forged.list }), harness.authority.keys),
      'AUTHORISATION_LIST_SIGNATURE_INVALID',
    );
  });

  test('unknown key rejected', () => {
    const stranger = generateKeyPairSync('ed25519');
    const text = JSON.stringify(signList(buildList(), stranger.privateKey));
    throwsWithCode(
      () => verifyEnvelope(text, harness.authority.keys),
      'AUTHORISATION_LIST_KEY_UNKNOWN',
    );
  });

  test('malformed envelope names path', () => {
    throwsWithCode(
      () => verifyEnvelope('{"list": 1', harness.authority.keys),
      'AUTHORISATION_LIST_INVALID',
    );
    assert.throws(
      () =>
        verifyEnvelope(
          JSON.stringify({ list: {}, signature: { algorithm: 'RS256' } }),
          harness.authority.keys,
        ),
      (error: unknown) =>
        error instanceof Error &&
        'details' in error &&
        JSON.stringify(error.details).includes('/signature/algorithm'),
    );
    const badList = signedListText({ ...buildList(), version: 0 }, harness.authority);
    assert.throws(
      () => verifyEnvelope(badList, harness.authority.keys),
      (error: unknown) => error instanceof Error && error.message.includes('/list/version'),
    );
  });
});

describe('list import', () => {
  let harness: CoreHarness;
  beforeEach(async () => {
    harness = await createCoreHarness();
  });
  afterEach(async () => {
    await harness.dispose();
  });

  async function entriesFor(serialNumber: string) {
    return harness.authorisation.findEntries(harness.database.storage.db, { serialNumber });
  }

  test('signed list imported', async () => {
    const list = buildList({
      devices: [secretEntry('SN-1', 'a'.repeat(40)), secretEntry('SN-2', 'b'.repeat(40))],
    });
    const result = await harness.authorisation.importList(
      signedListText(list, harness.authority),
      source,
    );
    assert.equal(result.status, 'imported');
    assert.equal(result.devices, 2);
    const [found] = await entriesFor('SN-2');
    assert.equal(found?.listId, 'ward-7');
    assert.equal(found.entry.deviceClass, 'infusion-pump');
    const lists = await harness.authorisation.lists();
    assert.equal(lists[0]?.version, 1);
    const records = await harness.audit.list({ event: 'authorisation-list.import' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.details.keyId, harness.authority.keys[0]?.keyId);
  });

  test('forged list changes nothing', async () => {
    await harness.authorisation.importList(
      signedListText(
        buildList({ devices: [secretEntry('SN-1', 'a'.repeat(40))] }),
        harness.authority,
      ),
      source,
    );
    const envelope = signList(
      buildList({ version: 2, devices: [secretEntry('SN-1', 'a'.repeat(40))] }),
      harness.authority.privateKey,
    );
    const tampered = {
      ...envelope,
      list: { ...buildList({ version: 2 }), devices: [secretEntry('SN-9', 'z'.repeat(40))] },
    };
    await rejectsWithCode(
      harness.authorisation.importList(JSON.stringify(tampered), source),
      'AUTHORISATION_LIST_SIGNATURE_INVALID',
    );
    assert.equal((await entriesFor('SN-9')).length, 0);
    assert.equal((await entriesFor('SN-1')).length, 1);
    assert.equal((await harness.authorisation.lists())[0]?.version, 1);
    const rejections = await harness.audit.list({ event: 'authorisation-list.reject' });
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]?.outcome, 'serious-failure');
    assert.equal(rejections[0].details.code, 'AUTHORISATION_LIST_SIGNATURE_INVALID');
    await settle();
    assert.ok(
      harness.events.some(
        (event) =>
          event.subject === 'onboarding.alert' &&
          (event.data as { kind: string }).kind === 'list-rejected',
      ),
    );
  });

  test('expired list rejected', async () => {
    const now = Date.now();
    const expired = buildList({
      issuedAt: new Date(now - 2 * 86_400_000).toISOString(),
      expiresAt: new Date(now - 60_000).toISOString(),
      devices: [secretEntry('SN-1', 'a'.repeat(40))],
    });
    await rejectsWithCode(
      harness.authorisation.importList(signedListText(expired, harness.authority), source),
      'AUTHORISATION_LIST_EXPIRED',
    );
    assert.equal((await entriesFor('SN-1')).length, 0);
    assert.equal((await harness.audit.list({ event: 'authorisation-list.reject' })).length, 1);
    const future = buildList({
      issuedAt: new Date(now + 3_600_000).toISOString(),
      expiresAt: new Date(now + 7_200_000).toISOString(),
    });
    await rejectsWithCode(
      harness.authorisation.importList(signedListText(future, harness.authority), source),
      'AUTHORISATION_LIST_NOT_YET_VALID',
    );
  });

  test('lower version rejected', async () => {
    await harness.authorisation.importList(
      signedListText(
        buildList({ version: 5, devices: [secretEntry('SN-5', 'a'.repeat(40))] }),
        harness.authority,
      ),
      source,
    );
    await rejectsWithCode(
      harness.authorisation.importList(
        signedListText(
          buildList({ version: 4, devices: [secretEntry('SN-4', 'b'.repeat(40))] }),
          harness.authority,
        ),
        source,
      ),
      'AUTHORISATION_LIST_VERSION_ROLLBACK',
    );
    assert.equal((await entriesFor('SN-4')).length, 0);
    assert.equal((await entriesFor('SN-5')).length, 1);
    assert.equal((await harness.authorisation.lists())[0]?.version, 5);
    const rejection = (await harness.audit.list({ event: 'authorisation-list.reject' }))[0];
    assert.equal(rejection?.details.version, 4);
  });

  test('same version must match', async () => {
    const list = buildList({ version: 3, devices: [secretEntry('SN-3', 'a'.repeat(40))] });
    await harness.authorisation.importList(signedListText(list, harness.authority), source);
    const again = await harness.authorisation.importList(
      signedListText(list, harness.authority),
      source,
    );
    assert.equal(again.status, 'unchanged');
    await rejectsWithCode(
      harness.authorisation.importList(
        signedListText(
          { ...list, devices: [secretEntry('SN-X', 'c'.repeat(40))] },
          harness.authority,
        ),
        source,
      ),
      'AUTHORISATION_LIST_VERSION_REUSED',
    );
  });

  test('newer version replaces entries', async () => {
    await harness.authorisation.importList(
      signedListText(
        buildList({ devices: [secretEntry('SN-1', 'a'.repeat(40))] }),
        harness.authority,
      ),
      source,
    );
    await harness.authorisation.importList(
      signedListText(
        buildList({ version: 2, devices: [secretEntry('SN-2', 'b'.repeat(40))] }),
        harness.authority,
      ),
      source,
    );
    assert.equal((await entriesFor('SN-1')).length, 0);
    assert.equal((await entriesFor('SN-2')).length, 1);
  });

  test('inconsistent contents rejected', async () => {
    const duplicate = buildList({
      devices: [
        secretEntry('SN-1', 'a'.repeat(40)),
        secretEntry('SN-1', 'b'.repeat(40), { entryId: 'other' }),
      ],
    });
    await assert.rejects(
      harness.authorisation.importList(signedListText(duplicate, harness.authority), source),
      (error: unknown) => error instanceof Error && error.message.includes('/list/devices/1'),
    );
    const sharedSecret = buildList({
      devices: [secretEntry('SN-1', 'a'.repeat(40)), secretEntry('SN-2', 'a'.repeat(40))],
    });
    await rejectsWithCode(
      harness.authorisation.importList(signedListText(sharedSecret, harness.authority), source),
      'AUTHORISATION_LIST_INVALID',
    );
    const badAnchor = buildList({
      devices: [
        {
          ...secretEntry('SN-3', 'c'.repeat(40)),
          birthIdentity: {
            kind: 'idevid',
            trustAnchors: [
              `-----BEGIN CERTIFICATE-----\n${'A'.repeat(80)}\n-----END CERTIFICATE-----`,
            ],
          },
        },
      ],
    });
    await rejectsWithCode(
      harness.authorisation.importList(signedListText(badAnchor, harness.authority), source),
      'AUTHORISATION_LIST_INVALID',
    );
    assert.equal((await harness.authorisation.lists()).length, 0);
  });

  test('revocation takes effect at once', async () => {
    const device = await harness.inventory.create({
      manufacturer: 'Lumen Pumps GmbH',
      model: 'LP-420',
      serialNumber: 'SN-R',
      lifeSustaining: false,
      criticality: 'moderate',
      state: 'production',
    });
    const early = await harness.inventory.create({
      manufacturer: 'Lumen Pumps GmbH',
      model: 'LP-420',
      serialNumber: 'SN-E',
      lifeSustaining: false,
      criticality: 'moderate',
      state: 'authorised',
    });
    const issued = harness.ca.signDeviceCertificate(deviceKeyRequest());
    await harness.database.storage.db
      .transaction()
      .execute((trx) => harness.ca.record(trx, issued, { deviceId: device.id, kind: 'device' }));
    const revokedAt = new Date().toISOString();
    const list = buildList({
      devices: [secretEntry('SN-K', 'k'.repeat(40))],
      revocations: [
        {
          manufacturer: 'Lumen Pumps GmbH',
          model: 'LP-420',
          serialNumber: 'SN-R',
          action: 'suspend',
          reason: 'reported stolen',
          revokedAt,
        },
        {
          manufacturer: 'Lumen Pumps GmbH',
          model: 'LP-420',
          serialNumber: 'SN-E',
          action: 'reject',
          reason: 'recalled',
          revokedAt,
        },
        {
          manufacturer: 'Lumen Pumps GmbH',
          model: 'LP-420',
          serialNumber: 'SN-NEVER-SEEN',
          action: 'reject',
          reason: 'recalled',
          revokedAt,
        },
      ],
    });
    await harness.authorisation.importList(signedListText(list, harness.authority), source);
    assert.equal((await harness.inventory.get(device.id)).state, 'suspended');
    assert.equal((await harness.inventory.get(early.id)).state, 'rejected');
    const record = await harness.ca.findByFingerprint(
      harness.database.storage.db,
      issued.parsed.fingerprint,
    );
    assert.equal(record?.status, 'revoked');
    assert.equal(record.revocation_reason, CrlReason.PrivilegeWithdrawn);
    assert.deepEqual(harness.suspended, [device.id]);
    const transitions = await harness.audit.list({
      event: 'device.lifecycle',
      targetId: device.id,
    });
    assert.equal(transitions.length, 1);
    assert.equal(transitions[0]?.details.to, 'suspended');
    assert.equal(transitions[0].actorId, 'authorisation-list:ward-7');
    assert.deepEqual((transitions[0].details.evidence as { listId: string }).listId, 'ward-7');
    const unseen = await harness.authorisation.findRevocation(harness.database.storage.db, {
      manufacturer: 'Lumen Pumps GmbH',
      model: 'LP-420',
      serialNumber: 'SN-NEVER-SEEN',
    });
    assert.equal(unseen?.action, 'reject');
    await settle();
    const changes = harness.events.filter(
      (event) => event.subject === 'onboarding.device.state-changed',
    );
    assert.equal(changes.length, 2);
  });

  test('secret stays consumed across versions', async () => {
    const secret = randomBytes(24).toString('base64url');
    const entry = secretEntry('SN-S', secret);
    await harness.authorisation.importList(
      signedListText(buildList({ devices: [entry] }), harness.authority),
      source,
    );
    const hash =
      entry.birthIdentity.kind === 'bootstrap-secret' ? entry.birthIdentity.secretSha256 : '';
    assert.equal(
      await harness.authorisation.consumeSecret(harness.database.storage.db, hash, 'device-s'),
      true,
    );
    assert.equal(
      await harness.authorisation.consumeSecret(harness.database.storage.db, hash, 'device-s'),
      false,
    );
    await harness.authorisation.importList(
      signedListText(buildList({ version: 2, devices: [entry] }), harness.authority),
      source,
    );
    const stored = await harness.authorisation.findSecret(harness.database.storage.db, hash);
    assert.equal(stored?.consumed_by, 'device-s');
    assert.notEqual(MANUAL_LIST_ID, 'ward-7');
  });
});

function deviceKeyRequest() {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    subject: [{ type: '2.5.4.3', value: 'SN-R' }],
    subjectAltNames: { uri: ['urn:medward:device:r'] },
    subjectPublicKeyInfoDer: publicKey.export({ type: 'spki', format: 'der' }),
    publicKey,
  };
}

describe('authority polling', () => {
  let harness: CoreHarness;
  let server: AuthorityServer;
  let listDirectory: string;
  let tlsCaFile: string;

  beforeEach(async () => {
    harness = await createCoreHarness();
    listDirectory = harness.directory.path;
    const tls = ensureAuthorityTls(join(listDirectory, 'tls'), ['127.0.0.1', 'localhost']);
    tlsCaFile = tls.certificateFile;
    server = new AuthorityServer({
      directory: listDirectory,
      host: '127.0.0.1',
      port: 0,
      tlsCertificatePem: tls.certificatePem,
      tlsKeyPem: tls.keyPem,
      logger: silentLogger(),
    });
    await server.start();
  });

  afterEach(async () => {
    await server.stop();
    await harness.dispose();
  });

  function publish(version: number, serial: string): void {
    const list = buildList({
      version,
      devices: [secretEntry(serial, `${serial}-secret-${'x'.repeat(32)}`)],
    });
    writeFileSync(join(listDirectory, 'ward-7.json'), signedListText(list, harness.authority));
  }

  function poller(
    service: AuthorisationService,
    url = `https://127.0.0.1:${server.port}/lists/ward-7.json`,
  ): AuthorityPoller {
    return new AuthorityPoller({
      config: {
        ...onboardingConfig().authority,
        url,
        tlsCaFile,
        pollIntervalMs: 3_600_000,
        requestTimeoutMs: 2000,
      },
      cacheFile: join(listDirectory, 'cache', 'list.json'),
      service,
      logger: silentLogger(),
    });
  }

  test('ETag answers not modified', async () => {
    publish(1, 'SN-1');
    const client = poller(harness.authorisation);
    const first = await client.poll();
    assert.equal(first.status, 'imported');
    const second = await client.poll();
    assert.equal(second.status, 'not-modified');
    publish(2, 'SN-2');
    const third = await client.poll();
    assert.equal(third.status, 'imported');
    const lists = await harness.authorisation.lists();
    assert.equal(lists[0]?.version, 2);
    assert.match(lists[0].etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    assert.equal(etagMatches(`W/${lists[0].etag ?? ''}, "other"`, lists[0].etag ?? ''), true);
  });

  test('lower version from authority rejected', async () => {
    publish(2, 'SN-2');
    const client = poller(harness.authorisation);
    await client.poll();
    publish(1, 'SN-1');
    const outcome = await client.poll();
    assert.deepEqual(outcome, { status: 'rejected', code: 'AUTHORISATION_LIST_VERSION_ROLLBACK' });
    assert.equal((await harness.authorisation.lists())[0]?.version, 2);
  });

  test('cache serves after restart offline', async () => {
    publish(3, 'SN-3');
    const first = poller(harness.authorisation);
    await first.poll();
    await server.stop();

    const database = await createTestDatabase('sqlite');
    try {
      const restarted = new AuthorisationService({
        storage: database.storage,
        audit: harness.audit,
        logger: silentLogger(),
        keys: harness.authority.keys,
        bus: harness.bus,
      });
      const client = poller(restarted);
      await client.start();
      const outcome = await client.poll();
      await client.stop();
      assert.equal(outcome.status, 'unreachable');
      const entries = await restarted.findEntries(database.storage.db, { serialNumber: 'SN-3' });
      assert.equal(entries.length, 1);
      assert.equal((await restarted.lists())[0]?.source, 'cache');
      await settle();
      assert.ok(
        harness.events.some(
          (event) =>
            event.subject === 'onboarding.alert' &&
            (event.data as { kind: string }).kind === 'authority-unreachable',
        ),
      );
    } finally {
      await database.dispose();
    }
  });

  test('altered cache not used', async () => {
    publish(1, 'SN-1');
    const cacheFile = join(listDirectory, 'cache', 'list.json');
    await poller(harness.authorisation).poll();
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as { envelope: string };
    cache.envelope = cache.envelope.replace('SN-1', 'SN-6');
    writeFileSync(cacheFile, JSON.stringify(cache));
    await server.stop();
    const database = await createTestDatabase('sqlite');
    try {
      const restarted = new AuthorisationService({
        storage: database.storage,
        audit: harness.audit,
        logger: silentLogger(),
        keys: harness.authority.keys,
      });
      const client = poller(restarted);
      await client.start();
      await client.stop();
      assert.equal((await restarted.lists()).length, 0);
      const rejections = await harness.audit.list({ event: 'authorisation-list.reject' });
      assert.equal(rejections.at(-1)?.details.code, 'AUTHORISATION_LIST_SIGNATURE_INVALID');
    } finally {
      await database.dispose();
    }
  });
});
