import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname } from 'node:path';
import { ErrorKind, MedwardError, isMedwardError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { AuthorityConfig } from '../config.js';
import type { AuthorisationService, ImportResult } from './authorisation-service.js';

/** Largest list body medward downloads. */
export const MAX_LIST_BYTES = 64 * 1024 * 1024;

export interface AuthorityPollerOptions {
  config: AuthorityConfig & { url: string };
  /** Absolute path of the disk cache. */
  cacheFile: string;
  service: AuthorisationService;
  logger: Logger;
}

export type PollOutcome =
  | { status: 'not-modified' }
  | { status: 'imported' | 'unchanged'; result: ImportResult }
  | { status: 'rejected'; code: string }
  | { status: 'unreachable'; reason: string };

interface CacheFile {
  url: string;
  etag: string | null;
  fetchedAt: string;
  envelope: string;
}

interface Fetched {
  status: number;
  etag: string | null;
  body: string;
}

/**
 * Keeps the authorisation list current: polls the authority's HTTPS URL
 * with If-None-Match, imports a changed list, and keeps the last verified
 * list in a cache file. At start the cached list is imported again, so
 * onboarding works from it while the authority is unreachable. The cache is
 * verified again like any list, so an altered file is rejected.
 */
export class AuthorityPoller implements Component {
  readonly name = 'authorisation-list-poller';
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<PollOutcome> | undefined;
  private etag: string | null = null;
  private unreachableSince: string | undefined;
  private readonly expiredAlerts = new Set<string>();
  private readonly ca: Buffer | undefined;

  constructor(private readonly options: AuthorityPollerOptions) {
    this.ca =
      options.config.tlsCaFile === undefined ? undefined : readFileSync(options.config.tlsCaFile);
  }

  async start(): Promise<void> {
    await this.importCache();
    this.timer = setInterval(() => {
      void this.poll();
    }, this.options.config.pollIntervalMs);
    this.timer.unref();
    void this.poll();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** Polls once; concurrent calls share the poll in flight. */
  poll(): Promise<PollOutcome> {
    this.polling ??= this.pollNow().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async importCache(): Promise<void> {
    let cache: CacheFile;
    try {
      cache = JSON.parse(readFileSync(this.options.cacheFile, 'utf8')) as CacheFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.options.logger.warn(
          { err: error, cacheFile: this.options.cacheFile },
          'authorisation list cache unreadable',
        );
      }
      return;
    }
    if (typeof cache.envelope !== 'string') {
      this.options.logger.warn(
        { cacheFile: this.options.cacheFile },
        'authorisation list cache has no envelope',
      );
      return;
    }
    try {
      await this.options.service.importList(cache.envelope, {
        kind: 'cache',
        location: this.options.cacheFile,
        ...(cache.etag === null ? {} : { etag: cache.etag }),
      });
      this.etag = cache.url === this.options.config.url ? cache.etag : null;
    } catch (error) {
      // The service audited the rejection; a cache that no longer verifies is not used.
      this.options.logger.warn(
        { err: error, cacheFile: this.options.cacheFile },
        'cached authorisation list not used',
      );
    }
  }

  private async pollNow(): Promise<PollOutcome> {
    const url = this.options.config.url;
    let fetched: Fetched;
    try {
      fetched = await this.fetch(url);
    } catch (error) {
      return this.unreachable(error instanceof Error ? error.message : String(error));
    }
    if (fetched.status === 304) {
      this.reachable();
      await this.options.service.checkExpiry(this.expiredAlerts);
      return { status: 'not-modified' };
    }
    if (fetched.status !== 200) {
      return this.unreachable(`authority answered HTTP ${fetched.status}`);
    }
    this.reachable();
    try {
      const result = await this.options.service.importList(fetched.body, {
        kind: 'authority',
        location: url,
        ...(fetched.etag === null ? {} : { etag: fetched.etag }),
      });
      this.etag = fetched.etag;
      this.writeCache({
        url,
        etag: fetched.etag,
        fetchedAt: new Date().toISOString(),
        envelope: fetched.body,
      });
      await this.options.service.checkExpiry(this.expiredAlerts);
      return { status: result.status, result };
    } catch (error) {
      await this.options.service.checkExpiry(this.expiredAlerts);
      if (isMedwardError(error)) {
        return { status: 'rejected', code: error.code };
      }
      throw error;
    }
  }

  private fetch(url: string): Promise<Fetched> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.etag !== null) {
        headers['if-none-match'] = this.etag;
      }
      const outgoing = request(
        url,
        {
          method: 'GET',
          headers,
          timeout: this.options.config.requestTimeoutMs,
          ...(this.ca === undefined ? {} : { ca: this.ca }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_LIST_BYTES) {
              response.destroy(
                new MedwardError(
                  ErrorKind.TooLarge,
                  'AUTHORISATION_LIST_TOO_LARGE',
                  `authorisation list at ${url} exceeds ${MAX_LIST_BYTES} bytes`,
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', reject);
          response.on('end', () => {
            const etag = response.headers.etag;
            resolve({
              status: response.statusCode ?? 0,
              etag: typeof etag === 'string' ? etag : null,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      outgoing.on('timeout', () => {
        outgoing.destroy(
          new Error(`no response within ${this.options.config.requestTimeoutMs} ms`),
        );
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  private async unreachable(reason: string): Promise<PollOutcome> {
    this.options.logger.warn({ url: this.options.config.url, reason }, 'authority unreachable');
    if (this.unreachableSince === undefined) {
      this.unreachableSince = new Date().toISOString();
      await this.options.service.alert({
        kind: 'authority-unreachable',
        reason: `authority at ${this.options.config.url} is unreachable (${reason}); onboarding continues with the stored list`,
      });
    }
    await this.options.service.checkExpiry(this.expiredAlerts);
    return { status: 'unreachable', reason };
  }

  private reachable(): void {
    if (this.unreachableSince !== undefined) {
      this.options.logger.info(
        { url: this.options.config.url, since: this.unreachableSince },
        'authority reachable again',
      );
      this.unreachableSince = undefined;
    }
  }

  private writeCache(cache: CacheFile): void {
    const file = this.options.cacheFile;
    try {
      mkdirSync(dirname(file), { recursive: true });
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      writeFileSync(temporary, JSON.stringify(cache), { mode: 0o644 });
      renameSync(temporary, file);
    } catch (error) {
      this.options.logger.warn(
        { err: error, cacheFile: file },
        'authorisation list cache not written',
      );
    }
  }
}
