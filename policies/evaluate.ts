// Evaluates the pack's policies against declared resources without the Pulumi engine: builds the
// same arguments @pulumi/policy hands to validations (stackTags, notApplicable, getConfig with the
// configSchema defaults overlaid by the pack config) and collects the violations with their
// enforcement level. The policy tests and `npm run policy:check` both use it.

import {
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";

export interface DeclaredResource {
    type: string;
    name: string;
    urn: string;
    props: Record<string, any>;
    /** URN of the parent resource, if any. */
    parent?: string;
    protect?: boolean;
    ignoreChanges?: string[];
}

export interface Violation {
    policy: string;
    enforcementLevel: EnforcementLevel;
    message: string;
    /** The resource the violation is about (resource policies, or stack policies that name one). */
    urn?: string;
}

/** policy-config.json: per policy, an enforcement level or an object with one plus config values. */
export type PackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
    throw new NotApplicable(reason);
}

/** The enforcement level and config a policy runs with, as the engine would resolve them. */
export function resolvePolicy(policy: Policy, pack: PackConfig, packLevel: EnforcementLevel = "mandatory"): { level: EnforcementLevel; config: Record<string, unknown> } {
    const entry = pack[policy.name];
    const config: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
        if ((schema as { default?: unknown }).default !== undefined) {
            config[key] = (schema as { default?: unknown }).default;
        }
    }
    let level = policy.enforcementLevel ?? packLevel;
    if (typeof entry === "string") {
        level = entry;
    } else if (entry) {
        for (const [key, value] of Object.entries(entry)) {
            if (key === "enforcementLevel") {
                level = value as EnforcementLevel;
            } else if (!(key in (policy.configSchema?.properties ?? {}))) {
                throw new Error(`policy config for ${policy.name}: unknown key ${key}; known: ${Object.keys(policy.configSchema?.properties ?? {}).join(", ") || "none"}`);
            } else {
                config[key] = value;
            }
        }
    }
    return { level, config };
}

function isType(type: string) {
    return (resourceClass: { __pulumiType?: string; isInstance?: (o: unknown) => boolean }) =>
        resourceClass.__pulumiType !== undefined ? resourceClass.__pulumiType === type : resourceClass.isInstance?.({ __pulumiType: type }) === true;
}

function policyResources(declared: DeclaredResource[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    for (const r of declared) {
        byUrn.set(r.urn, {
            type: r.type,
            name: r.name,
            urn: r.urn,
            props: r.props,
            opts: { protect: r.protect ?? false, ignoreChanges: r.ignoreChanges ?? [], aliases: [], additionalSecretOutputs: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 } } as any,
            dependencies: [],
            propertyDependencies: {},
            isType: isType(r.type) as any,
            asType: ((cls: any) => (isType(r.type)(cls) ? r.props : undefined)) as any,
        });
    }
    for (const r of declared) {
        if (r.parent && byUrn.has(r.parent)) {
            byUrn.get(r.urn)!.parent = byUrn.get(r.parent);
        }
    }
    return [...byUrn.values()];
}

function isResourcePolicy(p: Policy): p is ResourceValidationPolicy {
    return (p as ResourceValidationPolicy).validateResource !== undefined;
}

export async function evaluate(
    policies: Policy[],
    declared: DeclaredResource[],
    pack: PackConfig = {},
    stackTags: ReadonlyMap<string, string> = new Map(),
): Promise<Violation[]> {
    const violations: Violation[] = [];
    const resources = policyResources(declared);
    for (const policy of policies) {
        const { level, config } = resolvePolicy(policy, pack);
        if (level === "disabled") {
            continue;
        }
        const getConfig = <T extends object>() => config as T;
        if (isResourcePolicy(policy)) {
            const validations: ResourceValidation[] = ([] as ResourceValidation[]).concat(policy.validateResource ?? []);
            for (const r of resources) {
                const args = { ...r, stackTags, getConfig, notApplicable } as unknown as ResourceValidationArgs;
                const report: ReportViolation = (message) => violations.push({ policy: policy.name, enforcementLevel: level, message, urn: r.urn });
                for (const validate of validations) {
                    try {
                        await validate(args, report);
                    } catch (error) {
                        if (!(error instanceof NotApplicable)) throw error;
                    }
                }
            }
        } else {
            const report: ReportViolation = (message, urn) => violations.push({ policy: policy.name, enforcementLevel: level, message, urn });
            try {
                await (policy as StackValidationPolicy).validateStack({ resources, stackTags, getConfig, notApplicable }, report);
            } catch (error) {
                if (!(error instanceof NotApplicable)) throw error;
            }
        }
    }
    return violations;
}
