import { invalid } from '../../core/errors.js';
import type { ClassificationLevel } from '../../inventory/index.js';
import type { ProfileConfigEntry, ProfileSettingsConfig } from '../config.js';

/** The configuration medward issues to one device. Its canonical JSON is what the ledger hashes. */
export interface DeviceConfiguration {
  deviceId: string;
  site: string;
  deviceClass: string;
  /** Names of the profiles applied, least specific first. */
  profiles: string[];
  productionSegment: string;
  endpoints: { name: string; url: string }[];
  allowedPeers: { address: string; port: number; protocol: 'tcp' | 'udp' }[];
  channelClassification: ClassificationLevel;
  timeServers: string[];
  reportingIntervalSeconds: number;
  heartbeatIntervalSeconds: number | null;
  /** Hours before expiry from which the device should re-enrol. */
  renewBeforeHours: number;
}

export interface ProfileMatch {
  deviceId: string;
  site: string;
  deviceClass: string;
  manufacturer: string;
  model: string;
  /** The authorisation entry's segment, which outranks every profile. */
  productionSegment: string | undefined;
  /** The device's own classification, the default channel classification. */
  classification: ClassificationLevel;
  renewBeforeHours: number;
}

const DEFAULT_REPORTING_INTERVAL_SECONDS = 60;

/** Scores a profile's specificity: one point each for site, manufacturer and model, one for a named class. */
function specificity(profile: ProfileConfigEntry): number {
  return (
    (profile.deviceClass === '*' ? 0 : 1) +
    (profile.site === undefined ? 0 : 1) +
    (profile.manufacturer === undefined ? 0 : 1) +
    (profile.model === undefined ? 0 : 1)
  );
}

function matches(profile: ProfileConfigEntry, device: ProfileMatch): boolean {
  return (
    (profile.deviceClass === '*' || profile.deviceClass === device.deviceClass) &&
    (profile.site === undefined || profile.site === device.site) &&
    (profile.manufacturer === undefined || profile.manufacturer === device.manufacturer) &&
    (profile.model === undefined || profile.model === device.model)
  );
}

/**
 * Resolves a device's configuration from the profiles that match its site,
 * class, manufacturer and model. Profiles apply from least to most specific
 * (ties in configuration order), each replacing the settings it names. The
 * production segment comes from the authorisation entry, else the most
 * specific profile naming one. Raises REGISTRATION_PROFILE_NOT_FOUND when no
 * profile matches or none names a production segment.
 */
export function resolveConfiguration(
  profiles: readonly ProfileConfigEntry[],
  device: ProfileMatch,
): DeviceConfiguration {
  const applied = profiles
    .map((profile, index) => ({ profile, index }))
    .filter(({ profile }) => matches(profile, device))
    .sort((a, b) => specificity(a.profile) - specificity(b.profile) || a.index - b.index)
    .map(({ profile }) => profile);
  if (applied.length === 0) {
    throw invalid(
      'REGISTRATION_PROFILE_NOT_FOUND',
      `no configuration profile matches device class ${device.deviceClass} (${device.manufacturer} ${device.model}) ` +
        `at site ${device.site}; add one under onboarding.profiles`,
      { deviceClass: device.deviceClass, site: device.site },
    );
  }
  const settings: ProfileSettingsConfig = {};
  let productionSegment = device.productionSegment;
  let profileSegment: string | undefined;
  for (const profile of applied) {
    Object.assign(settings, profile.settings);
    profileSegment = profile.productionSegment ?? profileSegment;
  }
  productionSegment ??= profileSegment;
  if (productionSegment === undefined) {
    throw invalid(
      'REGISTRATION_PROFILE_NOT_FOUND',
      `no authorisation entry or profile names a production segment for device class ${device.deviceClass}; ` +
        'set productionSegment on a profile',
      { deviceClass: device.deviceClass },
    );
  }
  return {
    deviceId: device.deviceId,
    site: device.site,
    deviceClass: device.deviceClass,
    profiles: applied.map((profile) => profile.name),
    productionSegment,
    endpoints: settings.endpoints ?? [],
    allowedPeers: (settings.allowedPeers ?? []).map((peer) => ({
      address: peer.address,
      port: peer.port,
      protocol: peer.protocol,
    })),
    channelClassification: settings.channelClassification ?? device.classification,
    timeServers: settings.timeServers ?? [],
    reportingIntervalSeconds:
      settings.reportingIntervalSeconds ?? DEFAULT_REPORTING_INTERVAL_SECONDS,
    heartbeatIntervalSeconds: settings.heartbeatIntervalSeconds ?? null,
    renewBeforeHours: device.renewBeforeHours,
  };
}
