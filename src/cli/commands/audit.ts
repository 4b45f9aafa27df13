import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import {
  exportAuditTrail,
  verifyAuditChain,
  type AuditExportFormat,
} from '../../core/audit/index.js';
import { CommandFailed } from '../errors.js';
import type { OpenRuntime } from '../runtime.js';

export function auditCommand(openRuntime: OpenRuntime): Command {
  const audit = new Command('audit').description('check and export the hash-chained audit trail');

  audit
    .command('verify')
    .description(
      'walk the audit chain and name the first altered, removed or reordered record; ' +
        'exits 1 when the chain is broken',
    )
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }) => {
      const runtime = await openRuntime({ json: options.json });
      try {
        const result = await verifyAuditChain(runtime.audit);
        runtime.print(result, () =>
          result.ok
            ? `audit chain intact: ${result.recordsChecked} records, head at record ${result.headSeq}, ` +
              `head hash ${result.headHash ?? ''}`
            : `audit chain BROKEN after ${result.recordsChecked} good records: ${result.problem?.message ?? ''}`,
        );
        if (!result.ok) {
          throw new CommandFailed('audit chain verification failed', 1);
        }
      } finally {
        await runtime.close();
      }
    });

  audit
    .command('export')
    .description('write every audit record, oldest first')
    .addOption(
      new Option(
        '--format <format>',
        'jsonl: one JSON record a line; fhir: a FHIR R4 Bundle of AuditEvents',
      )
        .choices(['jsonl', 'fhir'])
        .default('jsonl'),
    )
    .option('--output <file>', 'file to write (default: standard output)')
    .action(async (options: { format: 'jsonl' | 'fhir'; output?: string }) => {
      const runtime = await openRuntime({});
      try {
        const format: AuditExportFormat = options.format === 'fhir' ? 'fhir-bundle' : 'jsonl';
        const out =
          options.output === undefined ? process.stdout : createWriteStream(options.output);
        const count = await exportAuditTrail(runtime.audit, format, out);
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(`wrote ${count} audit records to ${options.output ?? ''}\n`);
        }
      } finally {
        await runtime.close();
      }
    });

  return audit;
}
