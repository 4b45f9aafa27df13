import { invalid } from '../../core/errors.js';

/** Encodes DER bytes as one PEM block with 64-character lines (RFC 7468). */
export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Decodes every PEM block with `label` in `text`, in order. */
export function fromPemAll(text: string, label: string): Buffer[] {
  const pattern = new RegExp(
    `-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`,
    'g',
  );
  return [...text.matchAll(pattern)].map((match) =>
    Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'),
  );
}

/** Decodes the single PEM block with `label`; `source` names the file or field in the error. */
export function fromPem(text: string, label: string, source: string): Buffer {
  const blocks = fromPemAll(text, label);
  const first = blocks[0];
  if (first === undefined) {
    throw invalid('ONBOARDING_PEM_INVALID', `${source} contains no PEM block labelled ${label}`, {
      source,
    });
  }
  return first;
}
