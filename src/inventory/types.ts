import type { ClassificationLevel, Device, DeviceState } from './schema.js';

export interface DeviceTable {
  /** UUID. */
  id: string;
  manufacturer: string;
  model: string;
  serial_number: string;
  udi_di: string | null;
  udi_pi: string | null;
  /** EUI-64, 16 lowercase hex digits; unique where not null. */
  system_id: string | null;
  /** SHA-256, 64 lowercase hex digits. */
  certificate_fingerprint: string | null;
  state: string;
  segment: string | null;
  classification: string;
  /** 1 for a life-sustaining device, else 0 (an integer in both dialects). */
  life_sustaining: number;
  criticality: string;
  firmware_version: string | null;
  location: string | null;
  owner: string | null;
  version: number;
  /** ISO 8601 UTC timestamps from Date.toISOString, so text order is time order. */
  created_at: string;
  updated_at: string;
}

export interface DeviceMacAddressTable {
  /** Lowercase colon form; the primary key keeps each address on one device. */
  mac_address: string;
  device_id: string;
  position: number;
}

export interface DeviceSoftwareComponentTable {
  device_id: string;
  position: number;
  name: string;
  version: string;
  purl: string | null;
  cpe: string | null;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type InventoryTables = {
  device: DeviceTable;
  device_mac_address: DeviceMacAddressTable;
  device_software_component: DeviceSoftwareComponentTable;
};

/** Filters of a device listing; all given filters must match. */
export interface DeviceFilter {
  state?: DeviceState;
  segment?: string;
  classification?: ClassificationLevel;
  manufacturer?: string;
  model?: string;
  lifeSustaining?: boolean;
  /** Case-insensitive substring of the serial number or the model. */
  text?: string;
}

/** Position in a listing ordered by creation time, then id. */
export interface DevicePosition {
  createdAt: string;
  id: string;
}

export interface DeviceListQuery extends DeviceFilter {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Devices per page, 1 to 500; default 100. */
  limit?: number;
}

export interface DevicePage {
  items: Device[];
  /** Cursor of the next page, or null on the last page. */
  nextCursor: string | null;
}
