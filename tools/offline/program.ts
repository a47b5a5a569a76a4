// Runs the real program (index.ts) for a stack, the way the engine does: inside a root Stack
// resource, with the stack's real Pulumi.<stack>.yaml config (plus optional overrides), and
// returns what it declared: each resource's type, name, resolved inputs and resource options.

import * as pulumi from "@pulumi/pulumi";
import { FlatConfig, flattenStackConfig, readStackFile, SECRET_PLACEHOLDER } from "../../config";
import { bucketObjects, declared, DeclaredResource, DEPLOYED_OBJECTS, DEPLOYED_PEERS, peerStacks, useStack } from "./mocks";
import { RunCache, runKey } from "./runCache";

const PROGRAM = require.resolve("../../index");

/**
 * Resolves once the SDK's queue of RPCs to the (mock) monitor is empty. Not in the SDK's typings
 * (marked internal): it is what pulumi.runtime.disconnect() awaits before closing (runtime/settings.js).
 */
export const waitForRPCs: () => Promise<void> = require("@pulumi/pulumi/runtime/settings").waitForRPCs;

export interface Declared extends DeclaredResource {
    /** Names of the resources this one explicitly dependsOn. */
    dependsOn: string[];
    protect: boolean;
    /** Property paths the engine must not diff (resource option ignoreChanges). */
    ignoreChanges: string[];
    /** Property paths whose change replaces the resource (replaceOnChanges), and deleteBeforeReplace. */
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    retainOnDelete: boolean;
    /** Name of the parent resource. */
    parent?: string;
}

export interface ProgramRun {
    resources: Declared[];
    outputs: Record<string, any>;
    /** All resources of a type token, e.g. "aws:s3/bucket:Bucket". */
    ofType(type: string): Declared[];
    /** The single resource of a type (fails the test when there are 0 or several). */
    one(type: string): Declared;
    byName(name: string): Declared;
}

/**
 * Config overrides: `"drstack:rpo.region": "2h"` sets a nested value; `undefined` removes it.
 * Applied to a copy of the stack file; the file on disk is never changed.
 */
export type Overrides = Record<string, unknown>;

const secretOverrides = new Map<unknown, string>();

/** An override value that is set as a Pulumi secret, as `pulumi config set --secret` would. */
export function Secret(value: string): object {
    const marker = { secret: true };
    secretOverrides.set(marker, value);
    return marker;
}

export function stackConfigWith(stack: string, overrides: Overrides = {}): FlatConfig {
    const config = structuredClone(readStackFile(stack)) as Record<string, any>;
    for (const [path, value] of Object.entries(overrides)) {
        const [key, ...nested] = path.split(".");
        if (nested.length === 0) {
            if (value === undefined) delete config[key];
            else config[key] = value;
            continue;
        }
        let node = (config[key] ??= {});
        for (const part of nested.slice(0, -1)) node = node[part] ??= {};
        const last = nested[nested.length - 1];
        if (value === undefined) delete node[last];
        else node[last] = value;
    }
    return flattenStackConfig(config);
}

function settle(resources: Iterable<pulumi.Resource>): Promise<unknown[]> {
    return Promise.all([...resources].map((r) => new Promise((resolve) => r.urn.apply(resolve))));
}

export interface RunOptions {
    /** Outputs of peer stacks as StackReferences see them; defaults to the shipped pair as deployed. */
    peers?: Record<string, Record<string, unknown>>;
    /** Object keys per existing bucket, as S3 lookups see them; defaults to the shipped pair as deployed. */
    objects?: Record<string, string[]>;
}

/** Finished runs of this process, by everything they read (tools/offline/runCache.ts). */
const finished = new RunCache<{ run: ProgramRun; declared: DeclaredResource[] }>();

/**
 * Runs the program for a stack. An identical earlier run (same stack, effective config, peers and
 * objects; no clock-dependent setting) is answered from memory: the result is deep-frozen, and the
 * mocks' shared state (config, stack, peers, objects, `declared`) is set as the run would leave it.
 */
export async function runProgram(stack: string, overrides: Overrides = {}, options: RunOptions = {}): Promise<ProgramRun> {
    const peers = structuredClone(options.peers ?? DEPLOYED_PEERS);
    const objects = structuredClone(options.objects ?? DEPLOYED_OBJECTS);
    for (const k of Object.keys(peerStacks)) delete peerStacks[k];
    Object.assign(peerStacks, structuredClone(peers));
    for (const k of Object.keys(bucketObjects)) delete bucketObjects[k];
    Object.assign(bucketObjects, structuredClone(objects));
    const config = stackConfigWith(stack, overrides);
    // Values written as `secure:` in a stack file (or set to SECRET_PLACEHOLDER / a Secret() override) are secrets.
    const secretKeys = Object.keys(config).filter((k) => config[k] === SECRET_PLACEHOLDER || secretOverrides.has(overrides[k]));
    for (const k of secretKeys) {
        const v = overrides[k];
        if (secretOverrides.has(v)) config[k] = secretOverrides.get(v)!;
    }
    pulumi.runtime.setAllConfig(config, secretKeys);
    useStack(stack);
    declared.length = 0;
    const key = runKey({ stack, config, secretKeys, peers, objects });
    const earlier = finished.get(key);
    if (earlier) {
        declared.push(...earlier.declared);
        return earlier.run;
    }

    const names = new Map<pulumi.Resource, string>();
    const opts = new Map<
        string,
        { dependsOn: pulumi.Resource[]; protect: boolean; ignoreChanges: string[]; replaceOnChanges: string[]; deleteBeforeReplace: boolean; retainOnDelete: boolean; parent?: pulumi.Resource }
    >();
    const outputs = (await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            // A resource passed inside component args is rehydrated from its URN (opts.urn):
            // that is a reference to a declared resource, not a declaration.
            if (args.opts.urn !== undefined || names.has(args.resource)) {
                return undefined;
            }
            names.set(args.resource, args.name);
            const deps = args.opts.dependsOn;
            opts.set(`${args.type}::${args.name}`, {
                dependsOn: (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[],
                protect: args.opts.protect === true,
                ignoreChanges: args.opts.ignoreChanges ?? [],
                replaceOnChanges: args.opts.replaceOnChanges ?? [],
                deleteBeforeReplace: (args.opts as pulumi.CustomResourceOptions).deleteBeforeReplace === true,
                retainOnDelete: args.opts.retainOnDelete === true,
                parent: args.opts.parent,
            });
            return undefined;
        });
        delete require.cache[PROGRAM];
        // index.ts exports the promise of its outputs (it awaits the peer stack first).
        return await require(PROGRAM);
    })) as Record<string, any>;

    // Resources declared inside applies register later: wait until the set stops growing.
    let seen = -1;
    while (seen !== names.size) {
        seen = names.size;
        await settle(names.keys());
    }
    // Components register their outputs asynchronously, on this run's mock monitor; the next run
    // re-points the mocks at a new monitor, which rejects them ("unknown resource"). Drain the SDK's
    // RPC queue first, as pulumi.runtime.disconnect() does (@pulumi/pulumi runtime/settings.js waitForRPCs).
    await waitForRPCs();

    const resources: Declared[] = declared
        .filter((r) => r.type !== "pulumi:pulumi:Stack")
        .map((r) => {
            const o = opts.get(`${r.type}::${r.name}`);
            return {
                ...r,
                dependsOn: (o?.dependsOn ?? []).map((d) => names.get(d) ?? "<unknown>"),
                protect: o?.protect ?? false,
                ignoreChanges: o?.ignoreChanges ?? [],
                replaceOnChanges: o?.replaceOnChanges ?? [],
                deleteBeforeReplace: o?.deleteBeforeReplace ?? false,
                retainOnDelete: o?.retainOnDelete ?? false,
                parent: o?.parent ? names.get(o.parent) : undefined,
            };
        });
    const run: ProgramRun = {
        resources,
        outputs,
        ofType: (type) => resources.filter((r) => r.type === type),
        one(type) {
            const found = resources.filter((r) => r.type === type);
            if (found.length !== 1) {
                throw new Error(`expected exactly one ${type}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
            }
            return found[0];
        },
        byName(name) {
            const found = resources.find((r) => r.name === name);
            if (!found) throw new Error(`no resource named ${name}; declared: ${resources.map((r) => r.name).join(", ")}`);
            return found;
        },
    };
    finished.set(key, { run, declared: [...declared] });
    return run;
}

/** Runs the program expecting it to fail; returns the error and what was declared before it. */
export async function runProgramExpectingError(
    stack: string,
    overrides: Overrides,
    options: RunOptions = {},
): Promise<{ error: Error; declared: DeclaredResource[] }> {
    try {
        await runProgram(stack, overrides, options);
    } catch (error) {
        // A StackReference only reads the peer's outputs; it creates nothing.
        const created = declared.filter((r) => r.type !== "pulumi:pulumi:Stack" && r.type !== "pulumi:pulumi:StackReference");
        return { error: error as Error, declared: created };
    }
    throw new Error(`stack ${stack} with ${JSON.stringify(overrides)} and ${JSON.stringify(options)} was expected to fail but deployed`);
}
