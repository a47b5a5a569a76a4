// The pack's shared helpers: the recovery targets (stated once, in model/targets.ts) read from the
// pack config, and the one way policies are declared (resourcePolicy: type check + notApplicable;
// stackPolicy), whose report() requires the stack setting that fixes a violation, so every message
// tells the user which `drstack:` key to change. Durations use the program's parser
// (model/duration.ts), so the pack and the program cannot disagree about what "5m" means.

import { EnforcementLevel, PolicyConfigSchema, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { configKey } from "../model/contract";
import { formatDuration, parseDuration } from "../model/duration";
import { TargetKey, TARGETS } from "../model/targets";

export { formatDuration, TargetKey };

/** A configSchema holding just the targets a policy reads. */
export function targetsSchema(keys: readonly TargetKey[]): PolicyConfigSchema {
    const properties: PolicyConfigSchema["properties"] = {};
    for (const key of keys) {
        const { type, default: fallback, description } = TARGETS[key];
        properties[key] = { type, default: fallback, description } as PolicyConfigSchema["properties"][string];
    }
    return { properties };
}

/** Duration targets in seconds (and their text, for messages), booleans as is. */
export interface Targets {
    seconds(key: TargetKey): number;
    text(key: TargetKey): string;
    flag(key: TargetKey): boolean;
}

export function targetsOf(args: ResourceValidationArgs | StackValidationArgs): Targets {
    const config = args.getConfig<Record<string, unknown>>();
    const value = (key: TargetKey) => config[key] ?? TARGETS[key].default;
    return {
        seconds(key) {
            const text = String(value(key));
            const seconds = parseDuration(text);
            if (seconds === undefined) {
                throw new Error(`policy config ${key}: "${text}" is not a duration like 5m, 30d`);
            }
            return seconds;
        },
        text: (key) => String(value(key)),
        flag: (key) => value(key) === true || value(key) === "true",
    };
}

/** How to fix a violation: a stack setting, the setting a target mirrors, or nothing a user sets. */
export type Fix = { setting: string } | { fixedIn: string };
export const setting = (path: string): Fix => ({ setting: path });
export const target = (key: TargetKey): Fix => ({ setting: TARGETS[key].setting });
/** drstack always declares this; a violation means a changed component or a resource from elsewhere. */
export const fixedIn = (file: string): Fix => ({ fixedIn: file });

export function withFix(message: string, fix: Fix): string {
    return "setting" in fix
        ? `${message} [stack setting: ${configKey(fix.setting)}]`
        : `${message} [fixed by drstack in ${fix.fixedIn}; no stack setting changes it]`;
}

export type Report = (message: string, fix: Fix, urn?: string) => void;

interface PolicyBase {
    name: string;
    description: string;
    enforcementLevel?: EnforcementLevel;
    /** The targets the policy reads (its configSchema). */
    targets?: readonly TargetKey[];
}

/** A policy on resources of the given type token(s); other resources are not applicable. */
export function resourcePolicy(
    def: PolicyBase & {
        types: readonly string[];
        /** Narrows the policy to some resources of those types, saying which. */
        only?: { when: (props: Record<string, any>) => boolean; what: string };
        validate: (props: Record<string, any>, args: ResourceValidationArgs, report: Report) => void;
    },
): ResourceValidationPolicy {
    return {
        name: def.name,
        description: def.description,
        enforcementLevel: def.enforcementLevel ?? "mandatory",
        configSchema: def.targets ? targetsSchema(def.targets) : undefined,
        validateResource: (args, report) => {
            if (!def.types.includes(args.type)) {
                return args.notApplicable(`Policy only applies to resources of type ${def.types.map((t) => `'${t}'`).join(", ")}`);
            }
            if (def.only && !def.only.when(args.props ?? {})) {
                return args.notApplicable(`Policy only applies to ${def.only.what}`);
            }
            def.validate(args.props ?? {}, args, (message, fix) => report(withFix(message, fix)));
        },
    };
}

export function stackPolicy(def: PolicyBase & { validate: (args: StackValidationArgs, report: Report) => void }): StackValidationPolicy {
    return {
        name: def.name,
        description: def.description,
        enforcementLevel: def.enforcementLevel ?? "mandatory",
        configSchema: def.targets ? targetsSchema(def.targets) : undefined,
        validateStack: (args, report) => def.validate(args, (message, fix, urn) => report(withFix(message, fix), urn)),
    };
}

/** PostgreSQL time settings: a bare number is seconds; units ms, s, min, h, d. */
export function parsePgSeconds(value: unknown): number | undefined {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(String(value));
    if (!m) {
        return undefined;
    }
    const factor: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };
    return Number(m[1]) * factor[m[2] ?? "s"];
}

/** "<resource> (<type>)": how violation messages name a resource. */
export function describe(args: { name: string; type: string }): string {
    return `${args.name} (${args.type.split(":").pop()})`;
}

export type { PolicyResource };
