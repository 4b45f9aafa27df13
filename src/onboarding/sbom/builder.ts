import { ErrorKind, MedwardError } from '../../core/errors.js';
import type {
  SbomComponent,
  SbomDependency,
  SbomFinding,
  SbomHash,
  SbomLimits,
  SbomService,
} from './types.js';

/** A component as read, before de-duplication; `ref` is null when the document gave none. */
export interface RawComponent extends Omit<SbomComponent, 'ref' | 'parentRef'> {
  ref: string | null;
}

export interface RawService extends Omit<SbomService, 'ref' | 'parentRef'> {
  ref: string | null;
}

/**
 * A dependency edge as written, with the JSON paths of its two ends. An edge
 * with `to` null only declares its `from` node (a dependency entry without
 * dependsOn).
 */
export interface RawEdge {
  from: string;
  to: string | null;
  fromPath: string;
  toPath: string;
}

const PURL = /^pkg:[A-Za-z][A-Za-z0-9.+-]*\/\S+$/;

/**
 * Collects the components, services and dependency edges of one document and
 * produces medward's de-duplicated form. A component whose bom-ref or purl was
 * seen before is merged into the first one (the survivor), and its ref
 * becomes an alias, so dependency edges naming the duplicate are rewritten to
 * the survivor instead of dangling. Edges naming a ref that no component,
 * service or subject carries are dropped and reported as findings.
 */
export class SbomBuilder {
  private readonly components: SbomComponent[] = [];
  private readonly services: SbomService[] = [];
  private subject: SbomComponent | null = null;
  private readonly byRef = new Map<string, SbomComponent | SbomService>();
  private readonly byPurl = new Map<string, SbomComponent>();
  private readonly aliases = new Map<string, string>();
  /** Refs of things the graph may name but medward does not index, such as SPDX files. */
  private readonly opaqueRefs = new Set<string>();
  private readonly edges: RawEdge[] = [];
  private componentCount = 0;
  private generated = 0;

  constructor(
    private readonly limits: SbomLimits,
    readonly findings: SbomFinding[],
  ) {}

  /** Adds the described thing; returns its ref (a survivor's ref when it duplicates one). */
  setSubject(raw: RawComponent): string {
    return this.addComponent(raw, null, true);
  }

  /** Adds a component; returns the ref it is known by after de-duplication. */
  addComponent(raw: RawComponent, parentRef: string | null, isSubject = false): string {
    this.componentCount += 1;
    if (this.componentCount > this.limits.maxComponents) {
      throw new MedwardError(
        ErrorKind.TooLarge,
        'SBOM_TOO_MANY_COMPONENTS',
        `SBOM has more than ${this.limits.maxComponents} components (at ${raw.path}); ` +
          'split the document or raise onboarding.sbom.maxComponents',
        { details: { path: raw.path, maxComponents: this.limits.maxComponents } },
      );
    }
    const purl = this.checkedPurl(raw);
    const resolvedParent = parentRef === null ? null : (this.resolve(parentRef) ?? null);
    const byRef =
      raw.ref === null ? undefined : this.byRef.get(this.aliases.get(raw.ref) ?? raw.ref);
    if (byRef !== undefined) {
      if (this.isService(byRef)) {
        this.findings.push({
          code: 'SBOM_CONFLICTING_DUPLICATE',
          message: `bom-ref ${raw.ref ?? ''} names a service already; component ${raw.name} left out`,
          path: raw.path,
        });
        return byRef.ref;
      }
      this.merge(byRef, { ...raw, purl }, 'bom-ref');
      return byRef.ref;
    }
    const byPurl = purl === null ? undefined : this.byPurl.get(purl);
    if (byPurl !== undefined) {
      this.merge(byPurl, { ...raw, purl }, 'purl');
      if (raw.ref !== null) {
        this.aliases.set(raw.ref, byPurl.ref);
      }
      return byPurl.ref;
    }
    const component: SbomComponent = {
      ...raw,
      purl,
      ref: raw.ref ?? this.generateRef(),
      parentRef: resolvedParent,
    };
    this.byRef.set(component.ref, component);
    if (purl !== null) {
      this.byPurl.set(purl, component);
    }
    if (isSubject && this.subject === null) {
      this.subject = component;
    } else {
      this.components.push(component);
    }
    return component.ref;
  }

  addService(raw: RawService, parentRef: string | null): string {
    const existing = raw.ref === null ? undefined : this.byRef.get(raw.ref);
    if (existing !== undefined) {
      this.findings.push({
        code: this.isService(existing) ? 'SBOM_DUPLICATE_COMPONENT' : 'SBOM_CONFLICTING_DUPLICATE',
        message: `bom-ref ${raw.ref ?? ''} appears more than once; service ${raw.name} merged into the first`,
        path: raw.path,
      });
      return existing.ref;
    }
    const service: SbomService = {
      ...raw,
      ref: raw.ref ?? this.generateRef(),
      parentRef: parentRef === null ? null : (this.resolve(parentRef) ?? null),
    };
    this.byRef.set(service.ref, service);
    this.services.push(service);
    return service.ref;
  }

  /** Declares a ref that edges may name although medward keeps nothing for it. */
  addOpaqueRef(ref: string): void {
    this.opaqueRefs.add(ref);
  }

  addEdge(edge: RawEdge): void {
    this.edges.push(edge);
  }

  /** The survivor's ref for `ref`, or undefined when nothing carries it. */
  resolve(ref: string): string | undefined {
    const aliased = this.aliases.get(ref) ?? ref;
    return this.byRef.has(aliased) ? aliased : undefined;
  }

  result(): {
    subject: SbomComponent | null;
    components: SbomComponent[];
    services: SbomService[];
    dependencies: SbomDependency[];
  } {
    const graph = new Map<string, string[]>();
    for (const edge of this.edges) {
      const from = this.resolveEnd(edge.from, edge.fromPath);
      const to = edge.to === null ? undefined : this.resolveEnd(edge.to, edge.toPath);
      if (from === undefined) {
        continue;
      }
      let targets = graph.get(from);
      if (targets === undefined) {
        targets = [];
        graph.set(from, targets);
      }
      // The ends of an edge may merge into one survivor; that edge says nothing any more.
      if (to !== undefined && to !== from && !targets.includes(to)) {
        targets.push(to);
      }
    }
    return {
      subject: this.subject,
      components: this.components,
      services: this.services,
      dependencies: [...graph].map(([ref, dependsOn]) => ({ ref, dependsOn })),
    };
  }

  /** Resolves one end of an edge; opaque and dangling ends yield undefined, dangling ones with a finding. */
  private resolveEnd(ref: string, path: string): string | undefined {
    const resolved = this.resolve(ref);
    if (resolved !== undefined) {
      return resolved;
    }
    if (!this.opaqueRefs.has(ref)) {
      this.findings.push({
        code: 'SBOM_DANGLING_REFERENCE',
        message: `reference ${ref} names no component or service in the document; edge dropped`,
        path,
      });
    }
    return undefined;
  }

  private merge(survivor: SbomComponent, duplicate: RawComponent, key: 'bom-ref' | 'purl'): void {
    const conflicting =
      survivor.name !== duplicate.name ||
      (survivor.version !== null &&
        duplicate.version !== null &&
        survivor.version !== duplicate.version);
    this.findings.push({
      code: conflicting ? 'SBOM_CONFLICTING_DUPLICATE' : 'SBOM_DUPLICATE_COMPONENT',
      message: conflicting
        ? `component ${duplicate.name}@${duplicate.version ?? '?'} has the ${key} of ` +
          `${survivor.name}@${survivor.version ?? '?'} (${survivor.path}); the first one is kept`
        : `component ${duplicate.name} repeats the ${key} of ${survivor.path}; merged into it`,
      path: duplicate.path,
    });
    survivor.version ??= duplicate.version;
    survivor.group ??= duplicate.group;
    survivor.cpe ??= duplicate.cpe;
    survivor.supplier ??= duplicate.supplier;
    if (survivor.purl === null && duplicate.purl !== null && !this.byPurl.has(duplicate.purl)) {
      survivor.purl = duplicate.purl;
      this.byPurl.set(duplicate.purl, survivor);
    }
    for (const license of duplicate.licenses) {
      if (!survivor.licenses.includes(license)) {
        survivor.licenses.push(license);
      }
    }
    for (const hash of duplicate.hashes) {
      if (!survivor.hashes.some((known) => sameHash(known, hash))) {
        survivor.hashes.push(hash);
      }
    }
  }

  private checkedPurl(raw: RawComponent): string | null {
    if (raw.purl === null || PURL.test(raw.purl)) {
      return raw.purl;
    }
    this.findings.push({
      code: 'SBOM_FIELD_IGNORED',
      message: `purl ${JSON.stringify(raw.purl.slice(0, 100))} is not a package URL (pkg:type/name); ignored`,
      path: `${raw.path}.purl`,
    });
    return null;
  }

  private isService(entry: SbomComponent | SbomService): entry is SbomService {
    return 'endpoints' in entry;
  }

  private generateRef(): string {
    this.generated += 1;
    return `medward:component:${this.generated}`;
  }
}

function sameHash(a: SbomHash, b: SbomHash): boolean {
  return a.algorithm === b.algorithm && a.value.toLowerCase() === b.value.toLowerCase();
}
