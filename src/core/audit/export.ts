import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { toFhirAuditEvent } from './fhir.js';
import { toAuditRecord, type AuditTrail } from './trail.js';

export type AuditExportFormat = 'jsonl' | 'fhir-bundle';

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) {
    await once(out, 'drain');
  }
}

/**
 * Writes every audit record in sequence order: one JSON object a line, or a
 * FHIR R4 Bundle of type collection holding one AuditEvent per record. The
 * Bundle is written entry by entry so exports of any size stay in bounded
 * memory. Returns the number of records written.
 */
export async function exportAuditTrail(
  trail: AuditTrail,
  format: AuditExportFormat,
  out: Writable,
): Promise<number> {
  let count = 0;
  if (format === 'fhir-bundle') {
    await write(
      out,
      `{"resourceType":"Bundle","type":"collection","timestamp":${JSON.stringify(new Date().toISOString())},"entry":[`,
    );
  }
  for await (const row of trail.rows()) {
    const record = toAuditRecord(row);
    if (format === 'jsonl') {
      await write(out, JSON.stringify(record) + '\n');
    } else {
      const entry = { fullUrl: `urn:uuid:${record.id}`, resource: toFhirAuditEvent(record) };
      await write(out, (count === 0 ? '' : ',') + JSON.stringify(entry));
    }
    count += 1;
  }
  if (format === 'fhir-bundle') {
    await write(out, ']}\n');
  }
  return count;
}
