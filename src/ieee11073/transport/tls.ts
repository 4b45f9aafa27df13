/**
 * TLS settings of the 20601 listener, read from PEM files named in the
 * configuration.
 */
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Ieee11073Config } from '../config.js';

function readPem(file: string | undefined, key: string): Buffer {
  if (file === undefined) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'IEEE11073_TLS_FILE_MISSING',
      `ieee11073.tls.${key} is not set but TLS is enabled; set it to a PEM file`,
      { details: { key: `ieee11073.tls.${key}` } },
    );
  }
  try {
    return readFileSync(file);
  } catch (error) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'IEEE11073_TLS_FILE_UNREADABLE',
      `cannot read ieee11073.tls.${key} ${file}: ${(error as Error).message}`,
      { cause: error, details: { key: `ieee11073.tls.${key}`, file } },
    );
  }
}

/**
 * Returns the options of the TLS server, or undefined when TLS is off. With
 * `requireClientCert`, agents must present a certificate that `caFile` signs
 * (mutual TLS); without it, a client certificate is not requested.
 */
export function loadTlsOptions(tls: Ieee11073Config['tls']): TlsOptions | undefined {
  if (!tls.enabled) {
    return undefined;
  }
  const options: TlsOptions = {
    cert: readPem(tls.certFile, 'certFile'),
    key: readPem(tls.keyFile, 'keyFile'),
    minVersion: 'TLSv1.2',
  };
  if (tls.caFile !== undefined) {
    options.ca = readPem(tls.caFile, 'caFile');
  }
  if (tls.requireClientCert) {
    if (options.ca === undefined) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'IEEE11073_TLS_FILE_MISSING',
        'ieee11073.tls.requireClientCert needs ieee11073.tls.caFile to verify agent certificates',
        { details: { key: 'ieee11073.tls.caFile' } },
      );
    }
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  return options;
}
