// One `pulumi up` of a runbook, read the way the engine would get it, for the runbooks that depend
// on what already exists (README "Deploying for real" and "Failback after an emergency failover"):
// the real program runs under mocks with the peer outputs of the stacks deployed SO FAR (a stack
// that was only `pulumi stack init`ed has none) and the objects really in the local buckets at that
// moment (what its S3 lookups would list). From the declared resources this module reads what the
// drill then applies locally: the bucket, the replication rules, the Cluster (role, bootstrap,
// streaming, rebuild generation) and whether a changed Cluster is replaced. It also says what of
// that would fail in AWS or CloudNativePG right now. No PostgreSQL here: unit-tested on its own.
import "../tools/offline/mocks";
import { listStacks, readStackFile } from "../config";
import { ANNOTATIONS, BUCKET_PREFIXES, RESOURCE_TYPES } from "../model/contract";
import { Declared, Overrides, ProgramRun, runProgram } from "../tools/offline/program";
import { unwrapSecrets } from "../tools/policyCheck";
import { DeclaredReplicationRule, parseReplicationRules } from "./declared";

/** The stacks in the order README "Deploying for real" runs `pulumi up` (checked against the README by a test). */
export const FIRST_DEPLOYMENT_SEQUENCE = ["dr", "primary", "dr"] as const;

/** What the drill knows of the world before a step: outputs of the stacks deployed so far, and the objects per existing bucket. */
export interface World {
    deployed: Record<string, Record<string, unknown>>;
    objects: Record<string, string[]>;
}

export interface DeclaredCluster {
    name: string;
    /** spec.replica.primary names this cluster (CloudNativePG docs/src/replica_cluster.md). */
    isPrimary: boolean;
    /** The cluster the replica follows (spec.replica.source). */
    source: string;
    bootstrap: { kind: "initdb" } | { kind: "recovery"; source: string };
    /** The source external cluster has connectionParameters: it streams besides restoring from the archive. */
    streams: boolean;
    rebuildGeneration: string | undefined;
    /** spec.replica.promotionToken (planned switchover). */
    promotionToken: string | undefined;
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    /** The declared spec, for comparisons. */
    spec: Record<string, any>;
    annotations: Record<string, string>;
}

export interface DeclaredStep {
    stack: string;
    overrides: Overrides;
    bucket: string | undefined;
    replication: { sourceBucket: string; rules: DeclaredReplicationRule[] } | undefined;
    cluster: DeclaredCluster | undefined;
    /** The `bootstrap` output: "complete", or what it waits for. */
    bootstrap: string;
    /** Every output, as the peer stack's StackReference will read them once this step is deployed. */
    outputs: Record<string, unknown>;
    /** type::name -> inputs of every declared resource: what a second `pulumi up` must reproduce. */
    resources: Map<string, unknown>;
}

/** The fully qualified name of a stack (what the peer's drstack:peerStack says it is). */
export function fullyQualified(stack: string): string {
    for (const other of listStacks()) {
        const peer = readStackFile(other)["drstack:peerStack"];
        if (typeof peer === "string" && peer.split("/").pop() === stack) return peer;
    }
    throw new Error(`no stack file names stack ${stack} in drstack:peerStack; known stacks: ${listStacks().join(", ")}`);
}

/** Peer outputs as StackReferences see them: every stack was `pulumi stack init`ed, only deployed ones have outputs. */
export function peersOf(world: World): Record<string, Record<string, unknown>> {
    return Object.fromEntries(listStacks().map((s) => [fullyQualified(s), structuredClone(world.deployed[s] ?? {})]));
}

function inputsOf(r: Declared): Record<string, any> {
    return unwrapSecrets(r.inputs) as Record<string, any>;
}

function clusterOf(run: ProgramRun): DeclaredCluster | undefined {
    // drstack:restore clusters carry no spec.replica; the pair's Cluster does.
    const found = run.ofType(RESOURCE_TYPES.cnpgCluster).filter((r) => inputsOf(r).spec?.replica !== undefined);
    if (found.length > 1) throw new Error(`expected at most one Cluster in the replication pair, found ${found.map((r) => r.name).join(", ")}`);
    if (found.length === 0) return undefined;
    const r = found[0];
    const { spec, metadata } = inputsOf(r);
    const replica = spec.replica;
    const source = (spec.externalClusters ?? []).find((e: { name: string }) => e.name === replica.source);
    if (!source) throw new Error(`Cluster ${replica.self}: replica.source ${replica.source} is not among its externalClusters`);
    const bootstrap = spec.bootstrap?.initdb
        ? ({ kind: "initdb" } as const)
        : spec.bootstrap?.recovery
          ? ({ kind: "recovery", source: String(spec.bootstrap.recovery.source) } as const)
          : undefined;
    if (!bootstrap) throw new Error(`Cluster ${replica.self}: spec.bootstrap is neither initdb nor recovery: ${JSON.stringify(spec.bootstrap)}`);
    return {
        name: replica.self,
        isPrimary: replica.primary === replica.self,
        source: replica.source,
        bootstrap,
        streams: source.connectionParameters !== undefined,
        rebuildGeneration: metadata?.annotations?.[ANNOTATIONS.rebuildGeneration],
        promotionToken: replica.promotionToken || undefined,
        replaceOnChanges: r.replaceOnChanges,
        deleteBeforeReplace: r.deleteBeforeReplace,
        spec,
        annotations: metadata?.annotations ?? {},
    };
}

/** Reads the declared step from a program run. */
export function declaredStep(stack: string, overrides: Overrides, run: ProgramRun): DeclaredStep {
    const buckets = run.ofType(RESOURCE_TYPES.bucket);
    if (buckets.length > 1) throw new Error(`stack ${stack} declares ${buckets.length} buckets; the drill knows one backup bucket per stack`);
    const replications = run.ofType(RESOURCE_TYPES.bucketReplication);
    if (replications.length > 1) throw new Error(`stack ${stack} declares ${replications.length} BucketReplicationConfigs; the drill knows one per stack`);
    const replication = replications[0]
        ? { sourceBucket: String(replications[0].inputs.bucket), rules: parseReplicationRules(replications[0].inputs.rules, `BucketReplicationConfig ${replications[0].name}`) }
        : undefined;
    return {
        stack,
        overrides,
        bucket: buckets[0] ? String(inputsOf(buckets[0]).bucket) : undefined,
        replication,
        cluster: clusterOf(run),
        bootstrap: String(run.outputs.bootstrap),
        outputs: structuredClone(run.outputs),
        resources: new Map(run.resources.map((r) => [`${r.type}::${r.name}`, inputsOf(r)])),
    };
}

/** `pulumi up -s <stack>` with these overrides, as the program sees the world now. */
export async function declareStep(stack: string, overrides: Overrides, world: World): Promise<DeclaredStep> {
    const run = await runProgram(stack, overrides, { peers: peersOf(world), objects: structuredClone(world.objects) });
    const step = declaredStep(stack, overrides, run);
    // Components register their outputs after the run resolves; the next run re-points the mock
    // monitor, which would reject those late calls (drill/declared.ts waits the same way).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return step;
}

/** A base backup of `server` in `bucket` (barman-cloud keeps them under `<server>/base/<backup id>/`). */
export function hasBaseBackup(world: World, bucket: string, server: string): boolean {
    const base = `${BUCKET_PREFIXES.barman(server)}base/`;
    return (world.objects[bucket] ?? []).some((k) => k.startsWith(base) && k.endsWith("/backup.info"));
}

/**
 * What of the step would fail if applied to the world as it is: S3 refuses a replication
 * configuration whose destination bucket does not exist (AWS API PutBucketReplication:
 * "Destination bucket must exist"); CloudNativePG marks a Cluster whose recovery finds no base
 * backup Unrecoverable (internal/controller/cluster_controller.go, v1.30.0). Empty: nothing fails.
 */
export function wouldFail(step: DeclaredStep, world: World, clusterExists: boolean): string[] {
    const problems: string[] = [];
    for (const rule of step.replication?.rules ?? []) {
        if (rule.enabled && world.objects[rule.destinationBucket] === undefined) {
            problems.push(`replication rule ${rule.id} of s3://${step.replication!.sourceBucket} into s3://${rule.destinationBucket}, which does not exist`);
        }
    }
    const c = step.cluster;
    if (c && c.bootstrap.kind === "recovery" && !clusterExists && step.bucket && !hasBaseBackup(world, step.bucket, c.bootstrap.source)) {
        problems.push(`Cluster ${c.name} bootstraps by recovery from ${c.bootstrap.source}, but s3://${step.bucket}/ holds no base backup of it`);
    }
    return problems;
}

/** Resources whose declared inputs differ between two runs of a step (added, removed or changed), by type::name. */
export function declarationDiff(a: DeclaredStep, b: DeclaredStep): string[] {
    const keys = new Set([...a.resources.keys(), ...b.resources.keys()]);
    return [...keys].filter((k) => JSON.stringify(a.resources.get(k)) !== JSON.stringify(b.resources.get(k))).sort();
}

/**
 * Whether the engine replaces the deployed Cluster for the newly declared one: a property listed
 * in replaceOnChanges changed (pulumi.com/docs/iac/concepts/resources/options/replaceonchanges/).
 * Paths are the ones components/postgres/cluster.ts declares: `spec.bootstrap` and an annotation.
 */
export function clusterReplaced(before: DeclaredCluster, after: DeclaredCluster): string[] {
    const value = (c: DeclaredCluster, path: string): unknown => {
        const annotation = /^metadata\.annotations\["(.+)"\]$/.exec(path);
        if (annotation) return c.annotations[annotation[1]];
        if (path.startsWith("spec.")) return path.slice(5).split(".").reduce<any>((node, part) => node?.[part], c.spec);
        throw new Error(`replaceOnChanges path ${path} is not understood by the drill (spec.<path> or metadata.annotations["<key>"])`);
    };
    return after.replaceOnChanges.filter((p) => JSON.stringify(value(before, p)) !== JSON.stringify(value(after, p)));
}
