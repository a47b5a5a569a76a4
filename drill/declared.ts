// What the program DECLARES for a stack pair, read the way the engine would get it: the real
// program (index.ts) runs under the Pulumi mocks (tools/offline/) for the stack and its peer, and
// the drill builds its local topology from the declared resources, not from the config or from
// assumptions: whether the replica Cluster streams, archive_timeout and WAL compression, and the
// S3 replication rules the emulation applies. A resource shape this module does not understand is
// an error, never a guess.
import "../tools/offline/mocks";
import { listStacks, readStackFile } from "../config";
import { RESOURCE_TYPES } from "../model/contract";
import { Declared, Overrides, runProgram } from "../tools/offline/program";
import { peersFromStackFiles, unwrapSecrets } from "../tools/policyCheck";

/** One S3 replication rule as declared (aws:s3/bucketReplicationConfig rules[]). */
export interface DeclaredReplicationRule {
    id: string;
    enabled: boolean;
    /** Key prefix the rule selects; "" selects every object (an empty filter). */
    prefix: string;
    /** deleteMarkerReplication.status === "Enabled": deletes (delete markers) cross too. */
    replicateDeletes: boolean;
    /** Destination bucket name (from the destination ARN). */
    destinationBucket: string;
}

export interface DeclaredTopology {
    /** The stacks whose programs were run, primary-role first. */
    stacks: string[];
    primaryCluster: string;
    standbyCluster: string;
    /** The replica Cluster's replica.source external cluster has connectionParameters: it streams. */
    standbyStreams: boolean;
    /** The primary Cluster's postgresql.parameters.archive_timeout, in seconds. */
    archiveTimeoutSeconds: number;
    /** The primary's own archive ObjectStore's spec.configuration.wal.compression (undefined: none). */
    walCompression: string | undefined;
    /**
     * The replica Cluster has a WAL-archiving plugin: CloudNativePG then runs it with archive_mode=always
     * (pkg/postgres/configuration.go @v1.30.0: a replica cluster with WAL archiving gets "always").
     */
    standbyArchives: boolean;
    /**
     * The replica Cluster's wal_retrieve_retry_interval (declared, or PostgreSQL's default): how long its
     * standby sleeps after neither streaming nor the archive had the next WAL, before it tries again.
     */
    standbyWalRetrieveRetryInterval: string;
    /**
     * barman-cloud-backup's options per Cluster name, from its archive ObjectStore's spec.configuration.data,
     * built as the Barman Cloud plugin builds them (barmanCloudBackupOptions).
     */
    baseBackupOptions: Record<string, string[]>;
    /** Clusters whose ScheduledBackup declares `immediate: true` (a base backup right after creation). */
    immediateBackup: { primary: boolean; standby: boolean };
    /** The replication from the primary's bucket (the BucketReplicationConfig on it). */
    replication: { sourceBucket: string; rules: DeclaredReplicationRule[] };
}

/**
 * PostgreSQL's wal_retrieve_retry_interval when a Cluster declares none: 5 s (PostgreSQL 15 docs,
 * runtime-config-replication.html#GUC-WAL-RETRIEVE-RETRY-INTERVAL). CloudNativePG v1.30.0 sets no value
 * of its own (no occurrence in its Go sources), so a replica cluster waits this long between failed
 * attempts to get WAL from streaming and from the archive (restore_command).
 */
export const POSTGRES_DEFAULT_WAL_RETRIEVE_RETRY_INTERVAL = "5s";

/** A Cluster spec's postgresql.parameters.wal_retrieve_retry_interval as declared, or PostgreSQL's default. */
export function walRetrieveRetryIntervalOf(clusterSpec: Record<string, any>): string {
    return String(clusterSpec.postgresql?.parameters?.wal_retrieve_retry_interval ?? POSTGRES_DEFAULT_WAL_RETRIEVE_RETRY_INTERVAL);
}

/** PostgreSQL time units (postgresql.conf "Parameter Interaction"): a bare number is the unit of the GUC (s for archive_timeout). */
export function postgresSeconds(value: unknown, setting: string): number {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(String(value));
    if (!m) throw new Error(`declared ${setting} ${JSON.stringify(value)} is not a PostgreSQL duration like 270s, 5min or 300`);
    const factor = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 }[(m[2] ?? "s") as "s"];
    return Number(m[1]) * factor;
}

function bucketFromArn(arn: unknown, where: string): string {
    const m = /^arn:[\w-]+:s3:::([^/]+)$/.exec(String(arn));
    if (!m) throw new Error(`${where}: destination.bucket ${JSON.stringify(arn)} is not an S3 bucket ARN`);
    return m[1];
}

const KNOWN_RULE_KEYS = new Set(["id", "priority", "status", "filter", "destination", "deleteMarkerReplication", "sourceSelectionCriteria", "existingObjectReplication"]);

/**
 * The rules the replication emulation can apply: a filter of nothing or of `prefix` only. S3's
 * V2 rules (AWS API PutBucketReplication, ReplicationRule) may also filter on tags (`tag`, `and`)
 * and use the legacy rule-level `prefix`; the emulation does not implement those, so it refuses
 * them rather than copy the wrong objects.
 */
export function parseReplicationRules(rules: unknown, where: string): DeclaredReplicationRule[] {
    if (!Array.isArray(rules) || rules.length === 0) throw new Error(`${where}: no replication rules declared`);
    return rules.map((rule: Record<string, any>, i) => {
        const at = `${where} rules[${i}]${rule?.id ? ` (${rule.id})` : ""}`;
        const unknown = Object.keys(rule ?? {}).filter((k) => !KNOWN_RULE_KEYS.has(k) && rule[k] !== undefined);
        if (unknown.length > 0) throw new Error(`${at}: the drill's replication emulation does not understand ${unknown.join(", ")}; it handles filter.prefix, status and deleteMarkerReplication only`);
        const filter = (rule.filter ?? {}) as Record<string, unknown>;
        const filterKeys = Object.keys(filter).filter((k) => filter[k] !== undefined);
        if (filterKeys.some((k) => k !== "prefix")) {
            throw new Error(`${at}: filter.${filterKeys.filter((k) => k !== "prefix").join(", filter.")} is not emulated; the drill replicates by filter.prefix only`);
        }
        if (rule.status !== "Enabled" && rule.status !== "Disabled") throw new Error(`${at}: status ${JSON.stringify(rule.status)} is neither Enabled nor Disabled`);
        const deletes = rule.deleteMarkerReplication?.status ?? "Disabled";
        if (deletes !== "Enabled" && deletes !== "Disabled") throw new Error(`${at}: deleteMarkerReplication.status ${JSON.stringify(deletes)} is neither Enabled nor Disabled`);
        return {
            id: String(rule.id ?? `rule-${i}`),
            enabled: rule.status === "Enabled",
            prefix: typeof filter.prefix === "string" ? filter.prefix : "",
            replicateDeletes: deletes === "Enabled",
            destinationBucket: bucketFromArn(rule.destination?.bucket, at),
        };
    });
}

/** The stack and its peer (drstack:peerStack, when a stack file of that name exists). */
function pairOf(stack: string): string[] {
    const peer = readStackFile(stack)["drstack:peerStack"];
    const peerFile = typeof peer === "string" ? peer.split("/").pop()! : undefined;
    return peerFile && listStacks().includes(peerFile) ? [stack, peerFile] : [stack];
}

function spec(r: Declared): Record<string, any> {
    return (unwrapSecrets(r.inputs) as Record<string, any>).spec ?? {};
}

type ProgramRun = Awaited<ReturnType<typeof runProgram>>;

/** spec.configuration of the ObjectStore a Cluster's WAL-archiving plugin entry names. */
function archiveStoreConfig(run: ProgramRun, cluster: string, archiver: { parameters?: { barmanObjectName?: string } } | undefined): Record<string, any> {
    const storeName = archiver?.parameters?.barmanObjectName;
    const store = run.ofType(RESOURCE_TYPES.objectStore).find((o) => (unwrapSecrets(o.inputs) as any).metadata?.name === storeName);
    if (!store) throw new Error(`Cluster ${cluster}: no WAL-archiving plugin with a declared ObjectStore (barmanObjectName ${storeName})`);
    return spec(store).configuration ?? {};
}

/**
 * The options the Barman Cloud plugin gives barman-cloud-backup from an ObjectStore's spec.configuration.data
 * (cloudnative-pg/barman-cloud pkg/command: `--<compression>`, `--encryption`, `--immediate-checkpoint`, `--jobs`).
 * A data field the drill does not pass on is an error, never ignored.
 */
export function barmanCloudBackupOptions(data: Record<string, unknown> | undefined, where: string): string[] {
    const known = new Set(["compression", "jobs", "immediateCheckpoint"]);
    const unknown = Object.keys(data ?? {}).filter((k) => !known.has(k) && data![k] !== undefined);
    if (unknown.length > 0) throw new Error(`${where}: spec.configuration.data.${unknown.join(", data.")} is not passed on by the drill's base backup`);
    const options: string[] = [];
    if (data?.compression !== undefined) options.push(`--${String(data.compression)}`);
    if (data?.immediateCheckpoint === true) options.push("--immediate-checkpoint");
    if (data?.jobs !== undefined) options.push("--jobs", String(data.jobs));
    return options;
}

/** barman-cloud-backup's options for a Cluster's base backups; an error when it declares no archive ObjectStore. */
export function baseBackupOptionsOf(declared: DeclaredTopology, cluster: string): string[] {
    const options = declared.baseBackupOptions[cluster];
    if (!options) throw new Error(`Cluster ${cluster} declares no WAL-archiving plugin with an ObjectStore: it has nowhere to take a base backup to`);
    return options;
}

/** The cluster's ScheduledBackup declares `immediate: true` (CloudNativePG then backs up at once, not at the first schedule). */
function immediateBackupOf(run: ProgramRun, cluster: string): boolean {
    return run.ofType(RESOURCE_TYPES.scheduledBackup).some((b) => spec(b).cluster?.name === cluster && spec(b).immediate === true);
}

/** Runs the program for the stack and its peer (same overrides for both) and reads the topology. */
export async function declaredTopology(stack: string, overrides: Overrides = {}): Promise<DeclaredTopology> {
    const peers = peersFromStackFiles();
    const runs = [];
    for (const s of pairOf(stack)) {
        // runProgram returns once the SDK's RPCs have drained, so the next run's mock monitor sees none of them.
        runs.push({ stack: s, run: await runProgram(s, overrides, { peers }) });
    }
    const clusters = runs.flatMap(({ stack: s, run }) => run.ofType(RESOURCE_TYPES.cnpgCluster).map((r) => ({ stack: s, run, r, spec: spec(r) })));
    // CloudNativePG replica clusters (docs/src/replica_cluster.md): replica.primary names the
    // primary of the distributed topology; the cluster whose replica.self is it is the primary.
    const isPrimary = (c: (typeof clusters)[number]) => !c.spec.replica || c.spec.replica.primary === c.spec.replica.self;
    const primary = clusters.find(isPrimary);
    const standby = clusters.find((c) => !isPrimary(c));
    if (!primary) throw new Error(`stacks ${runs.map((r) => r.stack).join(", ")} declare no primary Cluster`);
    if (!standby) throw new Error(`stacks ${runs.map((r) => r.stack).join(", ")} declare no replica Cluster (spec.replica.primary != spec.replica.self)`);

    const source = (standby.spec.externalClusters ?? []).find((e: { name: string }) => e.name === standby.spec.replica.source);
    if (!source) throw new Error(`replica Cluster ${standby.spec.replica.self}: replica.source ${standby.spec.replica.source} is not among its externalClusters`);

    const archiveTimeout = primary.spec.postgresql?.parameters?.archive_timeout;
    if (archiveTimeout === undefined) throw new Error(`Cluster ${primary.spec.replica?.self ?? primary.r.name} declares no postgresql.parameters.archive_timeout`);

    // The plugin entry with isWALArchiver names the ObjectStore WAL goes to (plugin web/docs/usage.md).
    const walArchiver = (c: (typeof clusters)[number]) => (c.spec.plugins ?? []).find((p: { isWALArchiver?: boolean }) => p.isWALArchiver);
    const archiver = walArchiver(primary);
    const storeConfig = archiveStoreConfig(primary.run, primary.r.name, archiver);
    const sourceBucket = /^s3:\/\/([^/]+)/.exec(String(storeConfig.destinationPath))?.[1];
    if (!sourceBucket) throw new Error(`ObjectStore ${archiver?.parameters?.barmanObjectName}: destinationPath ${JSON.stringify(storeConfig.destinationPath)} is not s3://<bucket>/`);

    const standbyName = standby.spec.replica.self as string;
    const primaryName = primary.spec.replica?.self ?? String(primary.r.name);
    const standbyArchiver = walArchiver(standby);
    const baseBackupOptions: Record<string, string[]> = {
        [primaryName]: barmanCloudBackupOptions(storeConfig.data, `ObjectStore ${archiver?.parameters?.barmanObjectName}`),
    };
    if (standbyArchiver) {
        const standbyStore = archiveStoreConfig(standby.run, standbyName, standbyArchiver);
        baseBackupOptions[standbyName] = barmanCloudBackupOptions(standbyStore.data, `ObjectStore ${standbyArchiver.parameters?.barmanObjectName}`);
    }

    const replications = runs.flatMap(({ run }) => run.ofType(RESOURCE_TYPES.bucketReplication)).filter((r) => r.inputs.bucket === sourceBucket);
    if (replications.length !== 1) throw new Error(`expected one BucketReplicationConfig on the primary's bucket ${sourceBucket}, found ${replications.length}`);
    return {
        stacks: [primary.stack, standby.stack],
        primaryCluster: primaryName,
        standbyCluster: standbyName,
        standbyStreams: source.connectionParameters !== undefined,
        archiveTimeoutSeconds: postgresSeconds(archiveTimeout, "archive_timeout"),
        walCompression: storeConfig.wal?.compression,
        standbyArchives: standbyArchiver !== undefined,
        standbyWalRetrieveRetryInterval: walRetrieveRetryIntervalOf(standby.spec),
        baseBackupOptions,
        immediateBackup: { primary: immediateBackupOf(primary.run, primaryName), standby: immediateBackupOf(standby.run, standbyName) },
        replication: { sourceBucket, rules: parseReplicationRules(replications[0].inputs.rules, `BucketReplicationConfig ${replications[0].name}`) },
    };
}
