// The runbook-step driver, shared by every drill scenario that follows a README runbook (issue 11
// item 7: "each runbook step is driven through the program"). A step is what the runbook does to
// one stack: `pulumi config set ...` (overrides, kept for later steps as the stack's config keeps
// them) plus `pulumi up -s <stack>`. The driver runs the real program (index.ts) under the Pulumi
// mocks with the peer outputs and bucket contents of the current local state, and returns what
// the step DECLARES that the drill must apply: each CloudNativePG Cluster's role (writable primary
// or replica of whom), promotion token, bootstrap and fencing annotation; the fence marker objects;
// the fence-check CronJob's schedule and env; the Route53 records, health checks and the alarms
// they read. A shape it does not understand is an error, never a guess (DESIGN.md: "an emulation
// never does what the stack does not declare").
import "../tools/offline/mocks";
import { listStacks, readStackFile } from "../config";
import { JOB_LABEL_VALUES, RESOURCE_TYPES } from "../model/contract";
import { FENCE_MARKER_PREFIX, FenceMarker, FenceMarkerSchema } from "../model/fence";
import { cronProblem, maxIntervalSeconds } from "../model/schedule";
import { mockResourceId } from "../tools/offline/mocks";
import { Declared, Overrides, ProgramRun, runProgram, stackConfigWith } from "../tools/offline/program";
import { peersFromStackFiles, unwrapSecrets } from "../tools/policyCheck";
import { DeclaredReplicationRule, parseReplicationRules, walRetrieveRetryIntervalOf } from "./declared";
import { DeclaredDns, parseDns } from "./runbookDns";
import { decodePromotionToken, PromotionToken } from "./promotionToken";

export type { DeclaredAlarm, DeclaredDns, DeclaredHealthCheck, DeclaredRecord } from "./runbookDns";

/** One runbook step: the `pulumi config set` values (undefined = `pulumi config rm`) and `pulumi up -s <stack>`. */
export interface RunbookStep {
    stack: string;
    overrides?: Overrides;
}

/** A declared CloudNativePG Cluster, as the drill applies it (docs/src/replica_cluster.md @v1.30.0). */
export interface DeclaredCluster {
    /** metadata.name. */
    name: string;
    /** The stack's own cluster (the `postgresCluster` output), not a point-in-time restore. */
    main: boolean;
    /** No replica section, or replica.primary === replica.self: this cluster takes writes. */
    writable: boolean;
    /** replica.primary when it is another cluster: the primary of the distributed topology. */
    replicaOf?: string;
    /** replica.source: the external cluster it follows (or, if writable, would follow). */
    source?: string;
    /** replica.promotionToken as declared, and decoded (CloudNativePG's token). */
    promotionToken?: string;
    token?: PromotionToken;
    /** spec.bootstrap: initdb, or recovery from an external cluster's archive. */
    bootstrap: { method: "initdb" } | { method: "recovery"; source: string };
    /** cnpg.io/fencedInstances as declared (undefined: not declared; ["*"]: the whole cluster). */
    fencedInstances?: string[];
    /** metadata.annotations drstack.io/rebuild-generation, if declared. */
    rebuildGeneration?: string;
    /** The source external cluster declares connectionParameters: it streams besides restoring from the archive. */
    streams: boolean;
    /** postgresql.parameters.wal_retrieve_retry_interval as declared, or PostgreSQL's default (drill/declared.ts). */
    walRetrieveRetryInterval: string;
}

/** A fence marker object the step declares (aws:s3/BucketObjectv2 under fence/). */
export interface DeclaredFenceMarker {
    bucket: string;
    key: string;
    /** The object's body exactly as uploaded, and parsed against the contract (model/fence.ts). */
    content: string;
    marker: FenceMarker;
    contentType?: string;
}

/** The fence-check CronJob (label drstack.io/job: fence-check). */
export interface DeclaredFenceCheck {
    cronJob: string;
    /** The CronJob's namespace: the job fences the Cluster of that name in it. */
    namespace: string;
    schedule: string;
    /** The longest gap between two runs of the schedule, in seconds (production time). */
    intervalSeconds: number;
    /** The container's env, by name (every value literal). */
    env: Record<string, string>;
    /** spec.concurrencyPolicy: Forbid skips a run while the previous one still runs. */
    concurrencyPolicy: "Forbid" | "Allow" | "Replace";
}

/** What one step declares for its stack. */
export interface DeclaredStep {
    stack: string;
    /** The stack's config overrides after this step (every earlier step's too). */
    overrides: Overrides;
    /** The stack's outputs after `pulumi up` (what the peer's StackReference reads next). */
    outputs: Record<string, unknown>;
    clusters: DeclaredCluster[];
    fenceMarkers: DeclaredFenceMarker[];
    fenceCheck?: DeclaredFenceCheck;
    dns: DeclaredDns;
    /** The S3 replication out of the stack's own bucket, when declared (what carries its fence marker to the peer). */
    replication?: { sourceBucket: string; rules: DeclaredReplicationRule[] };
    /** type::name -> inputs of every declared resource: `pulumi up` again on the same state must declare the same. */
    resources: Map<string, unknown>;
}

/** How a step changes the stack's own cluster: what the drill does to the local server. */
export type ClusterChange =
    | { kind: "none" }
    /** It becomes writable: with the token (planned switchover, promote once replayed up to it) or without (emergency). */
    | { kind: "promote"; token?: PromotionToken }
    /** It stops taking writes and follows `replicaOf` (CloudNativePG demotion: archives its last WAL, publishes a token). */
    | { kind: "demote"; replicaOf: string }
    /** It is recreated (bootstrap or rebuild generation changed): the old data is discarded. */
    | { kind: "rebuild"; bootstrap: DeclaredCluster["bootstrap"] };

const KNOWN_REPLICA_KEYS = new Set(["primary", "self", "source", "promotionToken", "minApplyDelay"]);

/** Reads one declared CloudNativePG Cluster; refuses what the drill cannot apply. */
export function parseCluster(r: Pick<Declared, "name" | "inputs">, mainName: unknown): DeclaredCluster {
    const o = unwrapSecrets(r.inputs) as Record<string, any>;
    const name = String(o.metadata?.name ?? "");
    const at = `Cluster ${name || r.name}`;
    if (!name) throw new Error(`${at}: no metadata.name declared`);
    const spec = o.spec ?? {};
    const replica = spec.replica as Record<string, unknown> | undefined;
    let writable = true;
    let replicaOf: string | undefined;
    if (replica !== undefined) {
        const unknown = Object.keys(replica).filter((k) => !KNOWN_REPLICA_KEYS.has(k) && replica[k] !== undefined);
        if (unknown.length > 0) {
            throw new Error(`${at}: spec.replica.${unknown.join(", spec.replica.")} is not understood; the drill applies the distributed topology (primary, self, source, promotionToken) only`);
        }
        if (typeof replica.primary !== "string" || typeof replica.source !== "string") {
            throw new Error(`${at}: spec.replica needs primary and source (distributed topology); got ${JSON.stringify(replica)}`);
        }
        const self = replica.self ?? name;
        if (self !== name) throw new Error(`${at}: spec.replica.self ${JSON.stringify(self)} is not the Cluster's own name`);
        writable = replica.primary === self;
        if (!writable) {
            if (replica.source !== replica.primary) {
                throw new Error(`${at}: replica.source ${replica.source} differs from replica.primary ${replica.primary} (cascading replicas are not emulated)`);
            }
            replicaOf = replica.primary;
        }
        if (replica.promotionToken !== undefined && !writable) {
            throw new Error(`${at}: a promotionToken on a cluster that is not replica.primary is not understood`);
        }
    }
    const boot = spec.bootstrap ?? {};
    const methods = Object.keys(boot).filter((k) => boot[k] !== undefined);
    let bootstrap: DeclaredCluster["bootstrap"];
    if (methods.length === 1 && methods[0] === "initdb") bootstrap = { method: "initdb" };
    else if (methods.length === 1 && methods[0] === "recovery" && typeof boot.recovery.source === "string") bootstrap = { method: "recovery", source: boot.recovery.source };
    else throw new Error(`${at}: spec.bootstrap ${JSON.stringify(methods)} is not understood; the drill handles initdb, or recovery from an external cluster (recovery.source)`);

    const annotations = (o.metadata?.annotations ?? {}) as Record<string, string>;
    let fencedInstances: string[] | undefined;
    const fence = annotations["cnpg.io/fencedInstances"];
    if (fence !== undefined) {
        const parsed = (() => {
            try {
                return JSON.parse(fence);
            } catch {
                return undefined;
            }
        })();
        if (!Array.isArray(parsed) || parsed.some((i) => typeof i !== "string")) {
            throw new Error(`${at}: cnpg.io/fencedInstances ${JSON.stringify(fence)} is not a JSON list of instance names (docs/src/fencing.md)`);
        }
        fencedInstances = parsed;
    }
    const token = typeof replica?.promotionToken === "string" && replica.promotionToken !== "" ? replica.promotionToken : undefined;
    const external = (spec.externalClusters ?? []).find((e: { name?: string }) => e.name === replica?.source);
    return {
        name,
        main: name === mainName,
        writable,
        replicaOf,
        source: replica?.source as string | undefined,
        promotionToken: token,
        token: token ? decodePromotionToken(token, at) : undefined,
        bootstrap,
        fencedInstances,
        rebuildGeneration: annotations["drstack.io/rebuild-generation"],
        streams: external?.connectionParameters !== undefined,
        walRetrieveRetryInterval: walRetrieveRetryIntervalOf(spec),
    };
}

function fenceMarkersOf(run: ProgramRun): DeclaredFenceMarker[] {
    return run.ofType(RESOURCE_TYPES.bucketObject).flatMap((r) => {
        const o = unwrapSecrets(r.inputs) as Record<string, any>;
        if (typeof o.key !== "string" || !o.key.startsWith(FENCE_MARKER_PREFIX)) return [];
        const at = `BucketObjectv2 ${r.name} (${o.key})`;
        if (typeof o.content !== "string" || o.source !== undefined || o.contentBase64 !== undefined) {
            throw new Error(`${at}: a fence marker must be declared with literal content (no source or contentBase64)`);
        }
        const parsed = FenceMarkerSchema.safeParse(JSON.parse(o.content));
        if (!parsed.success) throw new Error(`${at}: the body breaks the fence contract (model/fence.ts): ${parsed.error.message}`);
        return [{ bucket: String(o.bucket), key: o.key, content: o.content, marker: parsed.data, contentType: o.contentType }];
    });
}

function fenceCheckOf(run: ProgramRun): DeclaredFenceCheck | undefined {
    const jobs = run.ofType(RESOURCE_TYPES.cronJob).filter((r) => (unwrapSecrets(r.inputs) as any).metadata?.labels?.["drstack.io/job"] === JOB_LABEL_VALUES.fenceCheck);
    if (jobs.length === 0) return undefined;
    if (jobs.length > 1) throw new Error(`${jobs.length} fence-check CronJobs declared (${jobs.map((j) => j.name).join(", ")}); the drill runs one per stack`);
    const o = unwrapSecrets(jobs[0].inputs) as Record<string, any>;
    const at = `CronJob ${o.metadata?.name}`;
    const schedule = String(o.spec?.schedule);
    const problem = cronProblem(schedule, "kubernetes");
    if (problem) throw new Error(`${at}: schedule ${problem}`);
    if ((o.spec?.timeZone ?? "Etc/UTC") !== "Etc/UTC") throw new Error(`${at}: timeZone ${o.spec.timeZone} is not emulated (UTC only)`);
    const containers = o.spec?.jobTemplate?.spec?.template?.spec?.containers ?? [];
    if (containers.length !== 1) throw new Error(`${at}: ${containers.length} containers; the drill runs exactly one`);
    const env: Record<string, string> = {};
    for (const e of containers[0].env ?? []) {
        if (typeof e.value !== "string") throw new Error(`${at}: env ${e.name} is not a literal value (valueFrom is not emulated)`);
        env[e.name] = e.value;
    }
    const concurrencyPolicy = o.spec?.concurrencyPolicy ?? "Allow";
    if (!["Forbid", "Allow", "Replace"].includes(concurrencyPolicy)) throw new Error(`${at}: concurrencyPolicy ${concurrencyPolicy} is not a Kubernetes CronJob policy`);
    return { cronJob: String(o.metadata?.name), namespace: String(o.metadata?.namespace), schedule, intervalSeconds: maxIntervalSeconds(schedule), env, concurrencyPolicy };
}

function replicationOf(run: ProgramRun, ownBucket: unknown): DeclaredStep["replication"] {
    const configs = run.ofType(RESOURCE_TYPES.bucketReplication).filter((r) => r.inputs.bucket === ownBucket);
    if (configs.length === 0) return undefined;
    if (configs.length > 1) throw new Error(`${configs.length} BucketReplicationConfigs on ${ownBucket}; S3 allows one per bucket`);
    return { sourceBucket: String(ownBucket), rules: parseReplicationRules(configs[0].inputs.rules, `BucketReplicationConfig ${configs[0].name}`) };
}

/** The stack short name a fully qualified peer reference (`org/project/stack`) points at. */
function shortName(ref: string): string {
    return ref.split("/").pop()!;
}

/**
 * The state a runbook works on: each stack's accumulated config and its outputs as the Pulumi
 * backend holds them (what the other stack's StackReference reads, even while a region is gone).
 */
export class RunbookState {
    /** Outputs by fully qualified stack name (`acme/drstack/primary`), as StackReferences read them. */
    readonly outputs: Record<string, Record<string, unknown>> = {};
    /** Config overrides per stack short name, accumulated over steps. */
    readonly config: Record<string, Overrides> = {};
    /** The newest declared state per stack short name. */
    readonly declared: Record<string, DeclaredStep> = {};
    /** Fully qualified name per short name, from the stack files' drstack:peerStack. */
    private readonly qualified: Record<string, string> = {};

    /**
     * `seed` is what the backend holds before the first step: "deployed" (each stack file's role and
     * bucket, as the shipped pair runs; run a no-override step per stack to get every output), or
     * "never-deployed" (`pulumi stack init` only: no outputs at all, the first-deployment state).
     * `baseOverrides`: settings every stack starts with (the drill's --overrides, e.g. streaming off).
     */
    constructor(readonly stacks: string[], seed: "deployed" | "never-deployed" = "deployed", baseOverrides: Overrides = {}) {
        const files = listStacks();
        for (const s of stacks) {
            if (!files.includes(s)) throw new Error(`unknown stack ${JSON.stringify(s)}: no Pulumi.${s}.yaml (stacks: ${files.join(", ")})`);
        }
        for (const f of files) {
            const peer = readStackFile(f)["drstack:peerStack"];
            if (typeof peer === "string") this.qualified[shortName(peer)] = peer;
        }
        for (const s of stacks) {
            if (!this.qualified[s]) throw new Error(`stack ${s}: no other stack names it in drstack:peerStack, so its outputs cannot be published to a StackReference`);
        }
        const deployed = peersFromStackFiles();
        for (const s of stacks) {
            this.outputs[this.qualified[s]] = seed === "deployed" ? { ...(deployed[this.qualified[s]] ?? {}) } : {};
            this.config[s] = { ...baseOverrides };
        }
    }

    /** An independent copy (e.g. to try two runbooks from the same deployed state). */
    fork(): RunbookState {
        const copy = new RunbookState(this.stacks);
        for (const [k, v] of Object.entries(structuredClone(this.outputs))) copy.outputs[k] = v;
        for (const k of Object.keys(copy.config)) delete copy.config[k];
        Object.assign(copy.config, structuredClone(this.config));
        // Shared, not cloned: a DeclaredStep is never changed after run() records it (runs answered from
        // the offline run cache are deep-frozen), and its resources' inputs can hold live SDK objects
        // (a component's args carry resources), which structuredClone refuses.
        Object.assign(copy.declared, this.declared);
        return copy;
    }

    /** Publishes an output the way `pulumi up --refresh` would (e.g. the demotionToken CloudNativePG set in the Cluster's status). */
    setOutput(stack: string, key: string, value: unknown): void {
        (this.outputs[this.qualified[stack]] ??= {})[key] = value;
    }

    /**
     * Runs one step: the program for `step.stack` with its accumulated config, the peers' outputs
     * as they are now, and `objects` (the keys of each bucket that exists and is reachable, as an S3
     * listing would see them). Records the step's outputs and declared state, and returns them.
     */
    async run(step: RunbookStep, objects: Record<string, string[]>): Promise<DeclaredStep> {
        if (!this.stacks.includes(step.stack)) throw new Error(`runbook step for stack ${step.stack}, which is not one of ${this.stacks.join(", ")}`);
        for (const key of Object.keys(step.overrides ?? {})) {
            if (!/^(drstack|aws):[A-Za-z][\w.-]*$/.test(key)) {
                throw new Error(`runbook step for ${step.stack}: override ${JSON.stringify(key)} is not a stack setting (drstack:<key> or aws:<key>, nested with ".")`);
            }
        }
        const overrides = { ...(this.config[step.stack] ?? {}), ...(step.overrides ?? {}) };
        const region = stackConfigWith(step.stack, overrides)["aws:region"];
        const run = await runProgram(step.stack, overrides, { peers: structuredClone(this.outputs), objects });
        // Components register their outputs after the run resolves; a later run re-points the mock
        // monitor, which would reject those late calls (drill/declared.ts waits the same way).
        await new Promise((resolve) => setTimeout(resolve, 300));
        const outputs = unwrapSecrets(run.outputs) as Record<string, unknown>;
        const ids = new Map(run.resources.map((r) => [mockResourceId(r.name), r.name]));
        const declared: DeclaredStep = {
            stack: step.stack,
            overrides,
            outputs,
            clusters: run.ofType(RESOURCE_TYPES.cnpgCluster).map((r) => parseCluster(r, outputs.postgresCluster)),
            fenceMarkers: fenceMarkersOf(run),
            fenceCheck: fenceCheckOf(run),
            dns: parseDns(run, String(region), (id) => ids.get(id)),
            replication: replicationOf(run, outputs.backupBucket),
            resources: new Map(run.resources.map((r) => [`${r.type}::${r.name}`, unwrapSecrets(r.inputs)])),
        };
        this.config[step.stack] = overrides;
        this.outputs[this.qualified[step.stack]] = outputs;
        this.declared[step.stack] = declared;
        return declared;
    }
}

/** The stack's own cluster in a declared step (fails when the step declares none, e.g. a bootstrap gate waits). */
export function mainCluster(step: DeclaredStep): DeclaredCluster {
    const main = step.clusters.filter((c) => c.main);
    if (main.length !== 1) {
        throw new Error(`stack ${step.stack} declares ${main.length} main Clusters (bootstrap: ${JSON.stringify(step.outputs.bootstrap)})`);
    }
    return main[0];
}

/** What the drill must do to the stack's cluster between two declared states of it. */
export function clusterChange(before: DeclaredCluster, after: DeclaredCluster): ClusterChange {
    if (before.name !== after.name) throw new Error(`the step renamed the cluster ${before.name} to ${after.name}; the drill follows one cluster per stack`);
    if (JSON.stringify(before.bootstrap) !== JSON.stringify(after.bootstrap) || before.rebuildGeneration !== after.rebuildGeneration) {
        return { kind: "rebuild", bootstrap: after.bootstrap };
    }
    if (!before.writable && after.writable) return { kind: "promote", token: after.token };
    if (before.writable && !after.writable) return { kind: "demote", replicaOf: after.replicaOf! };
    return { kind: "none" };
}
