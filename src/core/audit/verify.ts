import { GENESIS_HASH } from './types.js';
import { computeAuditHash, type AuditTrail } from './trail.js';

export type ChainProblemKind = 'altered' | 'removed' | 'reordered' | 'truncated';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** Sequence number of the first record found wrong (for `truncated`, the last one left). */
  seq: number;
  recordId: string | null;
  message: string;
}

export interface ChainVerification {
  ok: boolean;
  recordsChecked: number;
  headSeq: number;
  /** SHA-256 of the head record as hex, when the chain is intact: the value to anchor elsewhere. */
  headHash?: string;
  problem?: ChainProblem;
}

/**
 * Walks the chain in sequence order and stops at the first problem:
 * - altered: a record's content no longer matches its own hash;
 * - removed: records are missing before this one (a gap in the sequence,
 *   or its predecessor hash belongs to no stored record);
 * - reordered: its predecessor hash belongs to a record stored elsewhere in
 *   the sequence;
 * - truncated: the chain head names records after the last one stored.
 */
export async function verifyAuditChain(trail: AuditTrail): Promise<ChainVerification> {
  const head = await trail.head();
  let expectedSeq = 1;
  let previousHash = GENESIS_HASH;
  let checked = 0;

  for await (const row of trail.rows()) {
    const { seq, hash, ...content } = row;
    if (computeAuditHash(content) !== hash) {
      return failed(checked, head.seq, {
        kind: 'altered',
        seq,
        recordId: row.id,
        message: `record ${seq} (${row.id}) was altered: its content does not match its hash`,
      });
    }
    if (seq !== expectedSeq) {
      return failed(checked, head.seq, {
        kind: 'removed',
        seq,
        recordId: row.id,
        message: `records ${expectedSeq} to ${seq - 1} were removed before record ${seq} (${row.id})`,
      });
    }
    if (row.prev_hash !== previousHash) {
      const holder = await trail.seqOfHash(row.prev_hash);
      const problem: ChainProblem =
        holder === undefined
          ? {
              kind: 'removed',
              seq,
              recordId: row.id,
              message: `the record before record ${seq} (${row.id}) was removed: no stored record has hash ${row.prev_hash.slice(0, 16)}…`,
            }
          : {
              kind: 'reordered',
              seq,
              recordId: row.id,
              message: `record ${seq} (${row.id}) is out of order: it follows record ${holder}, not record ${seq - 1}`,
            };
      return failed(checked, head.seq, problem);
    }
    previousHash = hash;
    expectedSeq = seq + 1;
    checked += 1;
  }

  const lastSeq = expectedSeq - 1;
  if (head.seq !== lastSeq || head.hash !== previousHash) {
    return failed(checked, head.seq, {
      kind: 'truncated',
      seq: lastSeq,
      recordId: null,
      message:
        head.seq > lastSeq
          ? `records ${lastSeq + 1} to ${head.seq} were removed from the end of the trail`
          : `the chain head (record ${head.seq}) does not match the last record ${lastSeq}`,
    });
  }
  return { ok: true, recordsChecked: checked, headSeq: head.seq, headHash: head.hash };
}

function failed(checked: number, headSeq: number, problem: ChainProblem): ChainVerification {
  return { ok: false, recordsChecked: checked, headSeq, problem };
}
