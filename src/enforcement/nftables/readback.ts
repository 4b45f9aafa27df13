import { ErrorKind, MedwardError } from '../../core/errors.js';
import { parseMac } from '../address.js';
import { DEVICE_MAP, parseMarker } from './ruleset.js';

export interface DeviceChainState {
  ruleCount: number;
  /** Segment and decision tag from the last rule's comment. */
  marker?: { segmentName: string; decisionTag: string };
}

/** medward's table as the kernel reports it through `nft -j list table`. */
export interface TableState {
  /** MAC to the name of the chain its verdict jumps to. */
  elements: Map<string, string>;
  chains: Map<string, DeviceChainState>;
  /** Base chains present with the MAC lookup rule (input, forward). */
  hooks: Set<string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(message: string): MedwardError {
  return new MedwardError(
    ErrorKind.Internal,
    'ENFORCEMENT_NFT_OUTPUT_INVALID',
    `nft JSON output ${message}; check the nftables version (1.0 or later)`,
  );
}

function readElementTarget(data: unknown): string | undefined {
  if (!isRecord(data)) {
    return undefined;
  }
  const verdict = data.goto ?? data.jump;
  if (isRecord(verdict) && typeof verdict.target === 'string') {
    return verdict.target;
  }
  return undefined;
}

/** Parses the output of `nft -j list table <family> <table>`. */
export function parseTableJson(text: string, table: string): TableState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('is not JSON');
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.nftables)) {
    throw malformed('has no nftables array');
  }
  const state: TableState = { elements: new Map(), chains: new Map(), hooks: new Set() };
  const lastComment = new Map<string, string | undefined>();
  for (const item of parsed.nftables as unknown[]) {
    if (!isRecord(item)) {
      continue;
    }
    if (isRecord(item.map) && item.map.table === table && item.map.name === DEVICE_MAP) {
      const elements = Array.isArray(item.map.elem) ? (item.map.elem as unknown[]) : [];
      for (const element of elements) {
        if (!Array.isArray(element) || typeof element[0] !== 'string') {
          throw malformed(`has a ${DEVICE_MAP} element of unexpected shape`);
        }
        const mac = parseMac(element[0]);
        const target = readElementTarget(element[1]);
        if (mac === undefined || target === undefined) {
          throw malformed(
            `has a ${DEVICE_MAP} element ${JSON.stringify(element)} without MAC and verdict`,
          );
        }
        state.elements.set(mac, target);
      }
    }
    if (isRecord(item.chain) && item.chain.table === table && typeof item.chain.name === 'string') {
      if (item.chain.name.startsWith('dev_')) {
        state.chains.set(item.chain.name, { ruleCount: 0 });
      }
    }
    if (isRecord(item.rule) && item.rule.table === table && typeof item.rule.chain === 'string') {
      const chainName = item.rule.chain;
      const chain = state.chains.get(chainName);
      if (chain !== undefined) {
        chain.ruleCount += 1;
        lastComment.set(
          chainName,
          typeof item.rule.comment === 'string' ? item.rule.comment : undefined,
        );
      } else if (
        (chainName === 'input' || chainName === 'forward') &&
        JSON.stringify(item.rule.expr).includes(`@${DEVICE_MAP}`)
      ) {
        state.hooks.add(chainName);
      }
    }
  }
  for (const [chainName, comment] of lastComment) {
    const chain = state.chains.get(chainName);
    const marker = comment === undefined ? undefined : parseMarker(comment);
    if (chain !== undefined && marker !== undefined) {
      chain.marker = marker;
    }
  }
  return state;
}
