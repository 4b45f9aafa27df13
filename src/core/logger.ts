import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Destination stream; standard output when omitted. */
  destination?: NodeJS.WritableStream;
}

/**
 * Field paths that may carry a credential anywhere in a log object. Pino
 * replaces their values, so a careless `logger.info({ headers })` cannot leak a
 * bearer token.
 */
const redactedPaths = [
  'token',
  'secret',
  'password',
  'passphrase',
  'authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.passphrase',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions = {
    level: options.level,
    base: { service: 'medward' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** A logger that writes nothing, for tests and tools that want silence. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
