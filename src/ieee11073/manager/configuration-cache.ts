/**
 * The configurations the manager knows: the standard configurations of the
 * codec, and the extended ones agents reported and the manager accepted,
 * remembered per system id and dev-config-id in the database and cached here.
 */
import { ConfigId } from '../association.js';
import { standardConfiguration } from '../configurations.js';
import type { Configuration } from '../scan-report.js';
import type { Ieee11073Repository } from '../store/repository.js';

export class ConfigurationCache {
  /** Least recently used first: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Configuration>();

  constructor(
    private readonly repository: Ieee11073Repository,
    private readonly maxEntries = 10000,
  ) {}

  /**
   * Returns the configuration of an agent's dev-config-id: a standard one for
   * ids below the extended range, else the one accepted earlier from this
   * agent, or undefined when neither exists.
   */
  async lookup(systemId: string, devConfigId: number): Promise<Configuration | undefined> {
    if (devConfigId < ConfigId.extendedConfigStart) {
      const standard = standardConfiguration(devConfigId);
      if (standard !== undefined) {
        return standard;
      }
    }
    const key = `${systemId}:${devConfigId}`;
    const cached = this.entries.get(key);
    if (cached !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    const loaded = await this.repository.loadConfiguration(systemId, devConfigId);
    if (loaded !== undefined) {
      this.remember(systemId, devConfigId, loaded);
    }
    return loaded;
  }

  remember(systemId: string, devConfigId: number, configuration: Configuration): void {
    const key = `${systemId}:${devConfigId}`;
    this.entries.delete(key);
    this.entries.set(key, configuration);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) {
        this.entries.delete(oldest.value);
      }
    }
  }
}
