// The two regions as the drill deploys them step by step from what each `pulumi up` declares
// (drill/runbook.ts), and nothing else: a bucket in moto_server once declared; the replication
// emulation of exactly the declared rules once declared; a Cluster once declared, as a PostgreSQL
// server built the way its spec says (initdb, or barman-cloud-restore of the declared recovery
// source from this region's own bucket, then following the primary: restore_command from that
// bucket, plus streaming when declared). Each Cluster's ScheduledBackup is `immediate`, so a base
// backup is taken when it is created (a replica cluster backs up from its designated primary:
// CloudNativePG docs/src/replica_cluster.md "Backup and Symmetric Architectures"), and a replica
// cluster archives what it receives (archive_mode = always: pkg/postgres/configuration.go, v1.30.0).
// The stack's heartbeat (components/monitoring/heartbeat.ts) commits on the writable cluster every
// HEARTBEAT_INTERVAL_SECONDS, scaled like archive timing: without it an idle primary never fills a
// segment, and a backup from a replica waits for its last segment to be archived.
import { ListBucketsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { HEARTBEAT } from "../model/contract";
import { HEARTBEAT_INTERVAL_SECONDS } from "../model/rpo";
import { MotoServer } from "../local/motoServer";
import { LocalPostgres } from "../local/postgres";
import { runChecked } from "../local/processes";
import { TcpProxy } from "../local/tcpProxy";
import { Teardown } from "../local/teardown";
import { declaredBucket, Objects } from "./deploySteps";
import { DeclaredCluster, DeclaredStep } from "./runbook";
import { Replicator } from "./replicator";
import { DrillSettings } from "./topology";

export interface LocalCluster {
    declared: DeclaredCluster;
    server: LocalPostgres;
    /** The inter-region link the replica streams through (cuttable), when it streams. */
    link?: TcpProxy;
}

export interface LocalRegion {
    stack: string;
    bucket?: string;
    replicator?: Replicator;
    cluster?: LocalCluster;
}

/** A base backup into `bucket` under `server`, as the plugin's backup does (barman-cloud-backup). */
export async function barmanBaseBackup(pg: LocalPostgres, endpoint: string, bucket: string, server: string, compression = "gzip"): Promise<void> {
    await pg.run("barman-cloud-backup", [
        `--${compression}`, "--endpoint-url", endpoint,
        "--host", pg.socketDir, "--port", String(pg.port), "--user", pg.superuser,
        `s3://${bucket}/`, server,
    ]);
}

/** The newest completed base backup of `server` in `bucket` (barman 3.4 has no "latest" keyword). */
export async function latestBackupId(moto: MotoServer, bucket: string, server: string, as: LocalPostgres): Promise<string> {
    const out = await runChecked("barman-cloud-backup-list", ["--format", "json", "--endpoint-url", moto.endpoint, `s3://${bucket}/`, server], {
        env: { PATH: process.env.PATH ?? "", HOME: as.baseDir, ...moto.awsEnv() },
        runAs: as.user.runAs,
        timeoutMs: 60000,
    });
    const backups = (JSON.parse(out.stdout).backups_list ?? []) as { backup_id: string; status: string }[];
    const done = backups.filter((b) => b.status === "DONE").sort((a, b) => a.backup_id.localeCompare(b.backup_id));
    if (done.length === 0) throw new Error(`no completed base backup of ${server} in s3://${bucket}/`);
    return done[done.length - 1].backup_id;
}

export class LocalDeployment {
    /** The buckets and their keys as last read (refresh()). */
    objects: Objects = {};
    readonly regions = new Map<string, LocalRegion>();
    private heartbeating = true;
    private readonly heartbeat: Promise<void>;

    constructor(
        readonly moto: MotoServer,
        readonly settings: DrillSettings,
        private readonly teardown: Teardown,
    ) {
        this.heartbeat = this.heartbeatLoop();
        teardown.add("stop the heartbeat", () => this.stopHeartbeat());
    }

    /** The writable cluster's server, if one runs (the heartbeat Deployment follows the -rw service). */
    writable(): LocalCluster | undefined {
        return [...this.regions.values()].map((r) => r.cluster).find((c) => c?.declared.writable && c.server.running);
    }

    private async heartbeatLoop(): Promise<void> {
        const intervalMs = Math.max(200, (HEARTBEAT_INTERVAL_SECONDS / this.settings.timeScale) * 1000);
        while (this.heartbeating) {
            await this.writable()?.server.query(HEARTBEAT.sql).catch(() => undefined);
            await new Promise((r) => setTimeout(r, intervalMs));
        }
    }

    async stopHeartbeat(): Promise<void> {
        this.heartbeating = false;
        await this.heartbeat;
    }

    region(stack: string): LocalRegion {
        if (!this.regions.has(stack)) this.regions.set(stack, { stack });
        return this.regions.get(stack)!;
    }

    /** The local server of a cluster, by name. */
    clusterNamed(name: string): LocalCluster | undefined {
        return [...this.regions.values()].map((r) => r.cluster).find((c) => c?.declared.name === name);
    }

    /** Reads the buckets as an S3 lookup would now: every existing bucket and its keys. */
    async refresh(): Promise<Objects> {
        const s3 = this.moto.s3();
        const { Buckets } = await s3.send(new ListBucketsCommand({}));
        const objects: Record<string, string[]> = {};
        for (const b of Buckets ?? []) {
            const keys: string[] = [];
            let token: string | undefined;
            do {
                const page = await s3.send(new ListObjectsV2Command({ Bucket: b.Name!, ContinuationToken: token }));
                for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
                token = page.IsTruncated ? page.NextContinuationToken : undefined;
            } while (token);
            objects[b.Name!] = keys;
        }
        this.objects = objects;
        return objects;
    }

    /** Deploys what the step declares and is not there yet (the driver has published the stack's outputs). */
    async apply(step: DeclaredStep): Promise<void> {
        const main = step.clusters.filter((c) => c.main);
        if (main.length > 1) throw new Error(`stack ${step.stack} declares ${main.length} main Clusters`);
        const region = this.region(step.stack);
        const bucket = declaredBucket(step);
        if (bucket && region.bucket === undefined) {
            await this.moto.createBucket(bucket, { versioning: true });
            region.bucket = bucket;
        }
        if (step.replication && !region.replicator) this.startReplication(region, step.replication);
        if (!step.replication && region.replicator) throw new Error(`stack ${step.stack} no longer declares its replication: the drill does not emulate removing it`);
        if (main[0] && !region.cluster) {
            region.cluster = main[0].bootstrap.method === "initdb" ? await this.createPrimary(step, main[0]) : await this.createReplica(step, main[0]);
            await this.scheduledBackupImmediate(region);
        }
    }

    startReplication(region: LocalRegion, replication: NonNullable<DeclaredStep["replication"]>): void {
        const replicator = new Replicator(this.moto.s3(), replication.sourceBucket, replication.rules, this.settings.replicationLagSeconds);
        region.replicator = replicator;
        this.teardown.add(`stop the replication emulation from ${replication.sourceBucket}`, () => replicator.stop());
    }

    private archiveCommand(bucket: string, server: string): string {
        return `barman-cloud-wal-archive --${this.settings.walCompression} --endpoint-url ${this.moto.endpoint} s3://${bucket}/ ${server} %p`;
    }

    private async createPrimary(step: DeclaredStep, c: DeclaredCluster): Promise<LocalCluster> {
        const server = await LocalPostgres.start({
            name: `drill-${c.name}`,
            settings: {
                wal_level: "replica",
                archive_mode: "on",
                archive_command: this.archiveCommand(this.region(step.stack).bucket!, c.name),
                archive_timeout: `${this.settings.archiveTimeoutSeconds}s`,
                max_wal_senders: 5,
                wal_keep_size: "512MB",
                hot_standby: "on",
            },
            env: this.moto.awsEnv(),
        });
        this.teardown.add(`remove ${c.name}`, () => server.cleanup());
        // PostgreSQL 15 forces no archive_timeout switch before its first checkpoint (drill/topology.ts).
        await server.query("CHECKPOINT");
        return { declared: c, server };
    }

    /**
     * A replica cluster as declared: its recovery source's newest base backup from this region's own
     * bucket (the replicated copy), then restore_command from that bucket and, when it streams, a
     * connection to the source's server through a cuttable link. Also used for a rebuilt cluster.
     */
    async createReplica(step: DeclaredStep, c: DeclaredCluster): Promise<LocalCluster> {
        if (c.bootstrap.method !== "recovery") throw new Error(`Cluster ${c.name} does not bootstrap by recovery`);
        const bucket = this.region(step.stack).bucket!;
        const from = c.bootstrap.source;
        const primary = c.replicaOf ? this.clusterNamed(c.replicaOf) : undefined;
        const link = c.streams && primary ? await TcpProxy.start(primary.server.port) : undefined;
        if (link) this.teardown.add(`stop the link ${c.name} streams through`, () => link.stop());
        const server = await LocalPostgres.adopt({
            name: `drill-${c.name}`,
            env: this.moto.awsEnv(),
            populate: async (pg) => {
                const backupId = await latestBackupId(this.moto, bucket, from, pg);
                await pg.run("barman-cloud-restore", ["--endpoint-url", this.moto.endpoint, `s3://${bucket}/`, from, backupId, pg.dataDir]);
            },
            settings: {
                restore_command: `barman-cloud-wal-restore --endpoint-url ${this.moto.endpoint} s3://${bucket}/ ${c.source} %f %p`,
                recovery_target_timeline: "latest",
                wal_retrieve_retry_interval: "1s",
                ...(link ? { primary_conninfo: `host=${primary!.server.host} port=${link.port} user=${primary!.server.superuser} password=${primary!.server.password} application_name=${c.name}` } : {}),
                archive_mode: "always",
                archive_command: this.archiveCommand(bucket, c.name),
                archive_timeout: `${this.settings.archiveTimeoutSeconds}s`,
                hot_standby: "on",
                max_wal_senders: 5,
                wal_keep_size: "512MB",
            },
            signal: "standby",
        });
        this.teardown.add(`remove ${c.name}`, () => server.cleanup());
        return { declared: c, server, link };
    }

    /** The ScheduledBackup's `immediate` run: a base backup of the new cluster into its own bucket. */
    async scheduledBackupImmediate(region: LocalRegion): Promise<void> {
        const c = region.cluster!;
        await barmanBaseBackup(c.server, this.moto.endpoint, region.bucket!, c.declared.name);
    }

    /** Removes a cluster's server (a Cluster deleted before its replacement). */
    async removeCluster(stack: string): Promise<void> {
        const region = this.region(stack);
        const c = region.cluster;
        region.cluster = undefined;
        await c?.link?.stop();
        await c?.server.cleanup();
    }
}
