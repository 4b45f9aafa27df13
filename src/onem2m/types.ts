/**
 * oneM2M protocol vocabulary (TS-0004 release 3/4, JSON serialization with
 * short names). Numeric values are those of TS-0004.
 */

/** m2m:operation (TS-0004). */
export const Operation = {
  Create: 1,
  Retrieve: 2,
  Update: 3,
  Delete: 4,
  Notify: 5,
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** m2m:resourceType (TS-0004), the types this CSE hosts. */
export const ResourceType = {
  AccessControlPolicy: 1,
  AE: 2,
  Container: 3,
  ContentInstance: 4,
  CSEBase: 5,
  Group: 9,
  Subscription: 23,
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

/** Root element name of each hosted resource type in JSON (`{"m2m:cnt": {...}}`). */
export const typeShortNames: Readonly<Record<ResourceType, string>> = {
  1: 'm2m:acp',
  2: 'm2m:ae',
  3: 'm2m:cnt',
  4: 'm2m:cin',
  5: 'm2m:cb',
  9: 'm2m:grp',
  23: 'm2m:sub',
};

export function isResourceType(value: number): value is ResourceType {
  return Object.prototype.hasOwnProperty.call(typeShortNames, value);
}

/** m2m:resultContent (TS-0004). */
export const ResultContent = {
  Nothing: 0,
  Attributes: 1,
  HierarchicalAddress: 2,
  HierarchicalAddressAndAttributes: 3,
  AttributesAndChildResources: 4,
  AttributesAndChildResourceReferences: 5,
  ChildResourceReferences: 6,
  OriginalResource: 7,
  ChildResources: 8,
  ModifiedAttributes: 9,
  DiscoveryResultReferences: 11,
} as const;
export type ResultContent = (typeof ResultContent)[keyof typeof ResultContent];

/** m2m:filterUsage (TS-0004). */
export const FilterUsage = {
  Discovery: 1,
  ConditionalRetrieval: 2,
} as const;

/** m2m:filterOperation: how filter conditions combine. */
export const FilterOperation = {
  And: 1,
  Or: 2,
} as const;

/** m2m:desIdResType: the form of identifiers in discovery results. */
export const DiscoveryResultType = {
  Structured: 1,
  Unstructured: 2,
} as const;

/** m2m:notificationEventType (TS-0004). */
export const NotificationEventType = {
  UpdateOfResource: 1,
  DeleteOfResource: 2,
  CreateOfDirectChildResource: 3,
  DeleteOfDirectChildResource: 4,
} as const;
export type NotificationEventType =
  (typeof NotificationEventType)[keyof typeof NotificationEventType];

/** m2m:notificationContentType (TS-0004). */
export const NotificationContentType = {
  AllAttributes: 1,
  ModifiedAttributes: 2,
  ResourceId: 3,
} as const;

/** Access control operation bits of `acop` (TS-0004). */
export const AccessControlOperation = {
  Create: 1,
  Retrieve: 2,
  Update: 4,
  Delete: 8,
  Notify: 16,
  Discovery: 32,
} as const;
export type AccessControlOperation =
  (typeof AccessControlOperation)[keyof typeof AccessControlOperation];

/** m2m:consistencyStrategy: what happens to a group member of the wrong type. */
export const ConsistencyStrategy = {
  AbandonMember: 1,
  AbandonGroup: 2,
  SetMixed: 3,
} as const;

/** m2m:responseType `rtv` values; medward answers blocking requests only. */
export const ResponseType = {
  NonBlockingSynch: 1,
  NonBlockingAsynch: 2,
  BlockingRequest: 3,
  FlexBlocking: 4,
} as const;

/** Release versions (`rvi`) this CSE accepts. */
export const supportedReleaseVersions = ['2a', '3', '4', '5'] as const;

/** Filter criteria (m2m:filterCriteria) in the subset this CSE evaluates. */
export interface FilterCriteria {
  fu?: number;
  ty?: number[];
  lbl?: string[];
  cra?: string;
  crb?: string;
  ms?: string;
  us?: string;
  exa?: string;
  exb?: string;
  sts?: number;
  stb?: number;
  sza?: number;
  szb?: number;
  lim?: number;
  lvl?: number;
  ofst?: number;
  fo?: number;
}

/** A request primitive (m2m:requestPrimitive, TS-0004) after parsing. */
export interface RequestPrimitive {
  op: Operation;
  to: string;
  /** Originator; empty only for an AE registration that lets the CSE choose the AE-ID. */
  fr: string;
  rqi: string;
  rvi?: string;
  ty?: number;
  pc?: Record<string, unknown>;
  rcn?: number;
  fc?: FilterCriteria;
  drt?: number;
  /** Originating timestamp as sent. */
  ot?: string;
  /** Request expiration timestamp; an expired request is answered with 4008. */
  rqet?: string;
  /** Result expiration timestamp, accepted and not acted upon. */
  rset?: string;
  /** Response type value (`rt.rtv`). */
  rt?: number;
  /** Notification URIs for a non-blocking response, accepted and not acted upon. */
  rtu?: string[];
}

/** A response primitive (m2m:responsePrimitive, TS-0004). */
export interface ResponsePrimitive {
  rsc: number;
  rqi: string;
  pc?: unknown;
  to?: string;
  fr?: string;
  ot?: string;
  rvi?: string;
  /** Content status: 2 when the content is partial (discovery beyond `lim`). */
  cnst?: number;
  /** Content offset to continue a partial result from. */
  cnot?: number;
}
