// The two regions as the drill deploys them step by step from what each `pulumi up` declares
// (drill/runbook.ts), and nothing else: a bucket in moto_server once declared; the replication
// emulation of exactly the declared rules once declared; a Cluster once declared, as a PostgreSQL
// server built the way its spec says (initdb, or barman-cloud-restore of the declared recovery
// source from this region's own bucket, then following the primary: restore_command from that
// bucket, plus streaming when declared). A replica cluster archives what it receives (archive_mode
// = always: pkg/postgres/configuration.go, v1.30.0). Each Cluster's ScheduledBackup is `immediate`:
// the primary's first base backup is taken when it is created. NOT emulated: the replica cluster's
// immediate backup from its designated primary (docs/src/replica_cluster.md "Backup and Symmetric
// Architectures"): barman-cloud-backup from a standby waits for its last segment to be archived,
// which on an idle primary takes archive_timeout, and a heartbeat to shorten it fills the archive
// with a segment per scaled archive_timeout (3 s) that a restore under load cannot keep up with.
import { ListBucketsCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as path from "path";
import { MotoServer } from "../local/motoServer";
import { LocalPostgres } from "../local/postgres";
import { runChecked } from "../local/processes";
import { TcpProxy } from "../local/tcpProxy";
import { postgresBinDir, PYTHON_TOOL_ENV } from "../local/tools";
import { writeOwnedFile } from "../local/user";
import { Teardown } from "../local/teardown";
import { declaredBucket, Objects } from "./deploySteps";
import { encodePromotionToken, PromotionToken, tokenFromControlData } from "./promotionToken";
import { ClusterChange, clusterChange, DeclaredCluster, DeclaredStep } from "./runbook";
import { Replicator } from "./replicator";
import { baseBackupOptionsOf } from "./declared";
import { declaredTopologyOf, DrillSettings } from "./topology";

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

/**
 * A base backup into `bucket` under `server`, as the plugin's backup does (barman-cloud-backup), with the
 * options the cluster's declared ObjectStore gives it (drill/declared.ts barmanCloudBackupOptions): its
 * compression, jobs and immediate checkpoint. No --encryption: the declared ObjectStore sets none
 * (components/postgres/cluster.ts), so the plugin sends no SSE header and S3 applies the bucket's default key.
 */
export async function barmanBaseBackup(pg: LocalPostgres, endpoint: string, bucket: string, server: string, options: string[]): Promise<void> {
    await pg.run("barman-cloud-backup", [
        ...options, "--endpoint-url", endpoint,
        "--host", pg.socketDir, "--port", String(pg.port), "--user", pg.superuser,
        `s3://${bucket}/`, server,
    ]);
}

/** The newest completed base backup of `server` in `bucket` (barman 3.4 has no "latest" keyword). */
export async function latestBackupId(moto: MotoServer, bucket: string, server: string, as: LocalPostgres): Promise<string> {
    const out = await runChecked("barman-cloud-backup-list", ["--format", "json", "--endpoint-url", moto.endpoint, `s3://${bucket}/`, server], {
        env: { PATH: process.env.PATH ?? "", HOME: as.baseDir, ...PYTHON_TOOL_ENV, ...moto.awsEnv() },
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

    constructor(
        readonly moto: MotoServer,
        readonly settings: DrillSettings,
        private readonly teardown: Teardown,
    ) {}

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

    /**
     * Deploys what the step declares (the driver has published the stack's outputs): what is not
     * there yet, new fence markers, and the change of an existing Cluster, as CloudNativePG acts on
     * it (promote, after replaying up to the token if one is given; demote: a clean shutdown; rebuild:
     * the old Cluster deleted first, then the new one bootstrapped as declared). Returns the change.
     */
    async apply(step: DeclaredStep): Promise<ClusterChange> {
        const main = step.clusters.filter((c) => c.main);
        if (main.length > 1) throw new Error(`stack ${step.stack} declares ${main.length} main Clusters`);
        for (const m of step.fenceMarkers) {
            await this.moto.s3().send(new PutObjectCommand({ Bucket: m.bucket, Key: m.key, Body: m.content, ContentType: m.contentType }));
        }
        const existing = this.region(step.stack).cluster;
        const change: ClusterChange = existing && main[0] ? clusterChange(existing.declared, main[0]) : { kind: "none" };
        if (change.kind === "promote") await this.promote(existing!, change.token);
        if (change.kind === "demote") await existing!.server.stop("fast");
        if (change.kind === "rebuild") await this.removeCluster(step.stack);
        if (existing && main[0] && change.kind !== "rebuild") existing.declared = main[0];
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
            // A rebuilt Cluster's ScheduledBackup is not recreated, so `immediate` does not run again.
            if (main[0].writable && change.kind !== "rebuild") await this.baseBackup(step.stack);
        }
        return change;
    }

    /** CloudNativePG's promotion: with a token, once replayed up to it (pkg/promotiontoken/promotion_token.go), then pg_promote. */
    private async promote(c: LocalCluster, token: PromotionToken | undefined): Promise<void> {
        if (token) {
            const [row] = await c.server.query<{ id: string }>("SELECT system_identifier::text AS id FROM pg_control_system()");
            if (row.id !== token.databaseSystemIdentifier) throw new Error(`promotion token of system ${token.databaseSystemIdentifier}, but ${c.declared.name} is system ${row.id}: CloudNativePG refuses it`);
            const lsn = token.latestCheckpointREDOLocation;
            const start = Date.now();
            while (!(await c.server.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [lsn]))[0].done) {
                if (Date.now() - start > 120000) throw new Error(`${c.declared.name} did not replay up to the promotion token's ${lsn} within 120 s`);
                await new Promise((r) => setTimeout(r, 100));
            }
        }
        await c.server.query("SELECT pg_promote(true, 120)");
    }

    /** The demoted (cleanly stopped) cluster's token, as CloudNativePG publishes status.demotionToken. */
    async demotionToken(stack: string): Promise<string> {
        const server = this.region(stack).cluster!.server;
        if (server.running) throw new Error(`${this.region(stack).cluster!.declared.name} still runs: no demotion token yet`);
        const out = await runChecked(path.join(postgresBinDir(), "pg_controldata"), ["-D", server.dataDir], { env: { PATH: process.env.PATH ?? "", LANG: "C" }, runAs: server.user.runAs, timeoutMs: 30000 });
        return encodePromotionToken(tokenFromControlData(out.stdout));
    }

    /**
     * A demoted cluster starts again as a replica of the one its declaration follows: standby.signal,
     * restore_command from its own bucket, streaming through a new link when declared.
     */
    async followAsReplica(stack: string): Promise<void> {
        const region = this.region(stack);
        const c = region.cluster!;
        const primary = c.declared.replicaOf ? this.clusterNamed(c.declared.replicaOf) : undefined;
        if (!primary) throw new Error(`${c.declared.name} is declared a replica of ${c.declared.replicaOf}, which runs nowhere`);
        const link = c.declared.streams ? await TcpProxy.start(primary.server.port) : undefined;
        if (link) this.teardown.add(`stop the link ${c.declared.name} streams through`, () => link.stop());
        await c.link?.stop();
        c.link = link;
        const lines = [
            `restore_command = '${this.restoreCommand(region.bucket!, c.declared.replicaOf!)}'`,
            "recovery_target_timeline = 'latest'",
            // A replica cluster archives what it receives (archive_mode = always).
            "archive_mode = 'always'",
            ...(link ? [`primary_conninfo = '${this.conninfo(primary.server, link, c.declared.name)}'`] : []),
        ];
        fs.appendFileSync(path.join(c.server.dataDir, "postgresql.conf"), `\n# demoted: follows ${c.declared.replicaOf}\n${lines.join("\n")}\n`);
        writeOwnedFile(path.join(c.server.dataDir, "standby.signal"), "", c.server.user, 0o600);
        await c.server.restart();
    }

    private restoreCommand(bucket: string, server: string): string {
        return `barman-cloud-wal-restore --endpoint-url ${this.moto.endpoint} s3://${bucket}/ ${server} %f %p`;
    }

    private conninfo(primary: LocalPostgres, link: TcpProxy, name: string): string {
        return `host=${primary.host} port=${link.port} user=${primary.superuser} password=${primary.password} application_name=${name}`;
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
                restore_command: this.restoreCommand(bucket, c.source!),
                recovery_target_timeline: "latest",
                wal_retrieve_retry_interval: c.walRetrieveRetryInterval,
                ...(link ? { primary_conninfo: this.conninfo(primary!.server, link, c.name) } : {}),
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

    /** A base backup of the stack's cluster into its own bucket (ScheduledBackup `immediate`, or `kubectl cnpg backup`). */
    async baseBackup(stack: string): Promise<void> {
        const region = this.region(stack);
        const c = region.cluster!;
        await barmanBaseBackup(c.server, this.moto.endpoint, region.bucket!, c.declared.name, await this.baseBackupOptions(c.declared.name));
    }

    /** barman-cloud-backup's options for a cluster, from its declared ObjectStore. */
    async baseBackupOptions(cluster: string): Promise<string[]> {
        return baseBackupOptionsOf(await declaredTopologyOf(this.settings), cluster);
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
