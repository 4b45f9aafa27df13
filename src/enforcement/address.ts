import { isIPv4, isIPv6 } from 'node:net';
import { invalid } from '../core/errors.js';

/** A network prefix: an address and its prefix length. */
export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

const MAC_FORMS =
  /^[0-9a-f]{2}([-:]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/;

/**
 * Normalizes a MAC address to lowercase colon form (`00:1a:2b:3c:4d:5e`).
 * Accepts colon, hyphen, dot (Cisco `001a.2b3c.4d5e`) and bare hex forms,
 * because switches send Calling-Station-Id in all of them.
 */
export function parseMac(value: string): string | undefined {
  const text = value.trim().toLowerCase();
  if (!MAC_FORMS.test(text)) {
    return undefined;
  }
  return text.replace(/[-:.]/g, '').match(/../g)?.join(':');
}

export function requireMac(value: string, field: string): string {
  const mac = parseMac(value);
  if (mac === undefined) {
    throw invalid(
      'ENFORCEMENT_MAC_INVALID',
      `${field} ${JSON.stringify(value)} is not a MAC address; use the form 00:1a:2b:3c:4d:5e`,
      {
        field,
        value,
      },
    );
  }
  return mac;
}

/** Parses `address[/prefix]`; a bare address is a host prefix (/32 or /128). */
export function parseCidr(value: string): Cidr | undefined {
  const [address = '', prefix, extra] = value.split('/');
  if (extra !== undefined) {
    return undefined;
  }
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) {
    return undefined;
  }
  const maxLength = family === 4 ? 32 : 128;
  if (prefix === undefined) {
    return { family, address, prefixLength: maxLength };
  }
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > maxLength) {
    return undefined;
  }
  return { family, address, prefixLength: Number(prefix) };
}

export function requireCidr(value: string, field: string): Cidr {
  const cidr = parseCidr(value);
  if (cidr === undefined) {
    throw invalid(
      'ENFORCEMENT_ADDRESS_INVALID',
      `${field} ${JSON.stringify(value)} is not an IP address or prefix; use 192.0.2.10, 192.0.2.0/24 or 2001:db8::/32`,
      { field, value },
    );
  }
  return cidr;
}

export function formatCidr(cidr: Cidr): string {
  const maxLength = cidr.family === 4 ? 32 : 128;
  return cidr.prefixLength === maxLength ? cidr.address : `${cidr.address}/${cidr.prefixLength}`;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** Whether an IPv4 address lies inside an IPv4 prefix. IPv6 prefixes match exact addresses only. */
export function cidrContains(cidr: Cidr, address: string): boolean {
  if (cidr.family === 4) {
    if (!isIPv4(address)) {
      return false;
    }
    if (cidr.prefixLength === 0) {
      return true;
    }
    const shift = 32 - cidr.prefixLength;
    return ipv4ToNumber(cidr.address) >>> shift === ipv4ToNumber(address) >>> shift;
  }
  // NOTE: RADIUS clients on IPv6 are matched by exact address, not by prefix.
  return isIPv6(address) && address.toLowerCase() === cidr.address.toLowerCase();
}
