import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditTrail } from '../../src/core/audit/index.js';
import { ErrorKind, MedwardError } from '../../src/core/errors.js';
import { auditRejection } from '../../src/onboarding/est/credentials.js';
import { capturingLogger } from '../support/logger.js';
import { createTestDatabase } from '../support/storage.js';

test('failed secret logged as warning', async () => {
  const database = await createTestDatabase('sqlite');
  try {
    const audit = new AuditTrail(database.storage, { siteId: 'test' });
    const { logger, lines } = capturingLogger();
    const credential = {
      kind: 'bootstrap-secret' as const,
      secret: 'wrong-secret-0123456789',
      claimedSerialNumber: 'SN-4711',
      sourceAddress: '192.0.2.44',
    };
    await auditRejection(
      audit,
      logger,
      'est.enroll',
      credential,
      new MedwardError(ErrorKind.Unauthenticated, 'EST_BOOTSTRAP_SECRET_INVALID', 'secret invalid'),
    );
    await auditRejection(
      audit,
      logger,
      'est.enroll',
      credential,
      new MedwardError(ErrorKind.Invalid, 'EST_CSR_SUBJECT_EMPTY', 'subject empty'),
    );
    const rejected = lines.filter((line) => line.msg === 'provisioning request rejected');
    assert.deepEqual(
      rejected.map((line) => [line.level, line.code, line.clientId]),
      [
        [40, 'EST_BOOTSTRAP_SECRET_INVALID', 'SN-4711'],
        [30, 'EST_CSR_SUBJECT_EMPTY', 'SN-4711'],
      ],
    );
    assert.ok(!JSON.stringify(lines).includes(credential.secret), 'the secret is not logged');
    const records = await audit.list({ event: 'est.enroll' });
    assert.equal(records.length, 2);
  } finally {
    await database.dispose();
  }
});
