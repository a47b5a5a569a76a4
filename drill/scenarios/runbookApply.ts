// Applies runbook steps (drill/runbook.ts) to the drill's local topology, as the real system would
// act on what `pulumi up` declared: CloudNativePG promotes or demotes the local server of the
// declared Cluster, the fence marker object is written into the declared bucket (moto), and the
// DNS emulation takes the declared records, health checks and alarms. Each step is timed under its
// README runbook name. After each step the drill asks "what if the other region is gone right
// now?": the step may only have touched its own region, and changed no replication and no Route53
// record or health check (DESIGN.md "Static stability").
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import * as path from "path";
import { runChecked } from "../../local/processes";
import { postgresBinDir } from "../../local/tools";
import { LocalPostgres } from "../../local/postgres";
import { DnsEmulation } from "../dnsEmulation";
import { encodePromotionToken, tokenFromControlData } from "../promotionToken";
import { clusterChange, DeclaredStep, mainCluster, RunbookState, RunbookStep } from "../runbook";
import { Topology } from "../topology";
import { firstWriteAccepted } from "../workload";
import { Recorder, waitUntil } from "./scenario";

/** The runbook's settings for a promotion, as the README writes them. */
export function promotionOverrides(state: RunbookState, emergency: boolean): Record<string, unknown> {
    const generations = Object.values(state.outputs).map((o) => (typeof o.promotionGeneration === "number" ? o.promotionGeneration : 0));
    return {
        "drstack:role": "primary",
        ...(emergency ? { "drstack:emergencyFailover": true } : {}),
        "drstack:promotion.generation": Math.max(0, ...generations) + 1,
        ...(emergency ? { "drstack:promotion.at": new Date().toISOString().slice(0, 19) + "Z" } : {}),
    };
}

export class RunbookDrill {
    readonly state: RunbookState;
    readonly lostRegions = new Set<string>();
    readonly dns: DnsEmulation;

    private constructor(private readonly rec: Recorder, readonly t: Topology) {
        this.state = new RunbookState(t.declared.stacks);
        this.dns = new DnsEmulation(t.settings.timeScale, (fqdn) => this.endpointHealthy(fqdn), () => rec.now());
    }

    /**
     * The pair as deployed before the drill: a base backup of the primary in its bucket (replicated
     * into the standby's, which the standby Cluster's bootstrap gate looks for), then each stack's
     * program run once with its shipped config.
     */
    static async deployed(rec: Recorder, t: Topology): Promise<RunbookDrill> {
        const d = new RunbookDrill(rec, t);
        await rec.step("deployed state: base backup replicated into the standby bucket", async () => {
            await t.baseBackup();
            await waitUntil("the base backup to reach the standby bucket", async () => (await d.keys(t.standbyBucket)).some((k) => k.startsWith(`${t.primaryServer}/base/`)), 60000);
        });
        await rec.step("deployed state: both stacks' programs as shipped (under mocks)", async () => {
            for (const stack of t.declared.stacks) {
                const declared = await d.state.run({ stack }, await d.objects());
                d.dns.apply(stack, d.regionOf(stack), declared.dns, true);
            }
        });
        return d;
    }

    /** The stack's region (its awsRegion output). */
    regionOf(stack: string): string {
        return String(this.state.declared[stack]?.outputs.awsRegion ?? this.t.settings.config.region);
    }

    /** Which local server runs a cluster. */
    serverOf(cluster: string): LocalPostgres {
        if (cluster === this.t.primaryServer) return this.t.primary;
        if (cluster === this.t.standbyServer && this.t.standby) return this.t.standby;
        throw new Error(`no local server runs cluster ${cluster}`);
    }

    /** The endpoint a health check probes (the record target) maps to the region's cluster. */
    private async endpointHealthy(fqdn: string): Promise<boolean> {
        const stack = Object.values(this.state.declared).find((d) => d.dns.records.some((r) => r.target === fqdn));
        if (!stack || this.lostRegions.has(this.regionOf(stack.stack))) return false;
        const server = this.serverOf(mainCluster(stack).name);
        return server.running && (await server.query("SELECT 1").then(() => true, () => false));
    }

    async keys(bucket: string): Promise<string[]> {
        const keys: string[] = [];
        let token: string | undefined;
        do {
            const page = await this.t.moto.s3().send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
            for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
    }

    /** Keys of every bucket an S3 listing can reach now: a lost region's bucket is absent. */
    async objects(): Promise<Record<string, string[]>> {
        const out: Record<string, string[]> = {};
        for (const [bucket, stack] of [[this.t.primaryBucket, this.t.declared.stacks[0]], [this.t.standbyBucket, this.t.declared.stacks[1]]]) {
            if (this.state.declared[stack] && this.lostRegions.has(this.regionOf(stack))) continue;
            out[bucket] = await this.keys(bucket);
        }
        return out;
    }

    regionLost(stack: string): void {
        this.lostRegions.add(this.regionOf(stack));
        this.dns.regionLost(this.regionOf(stack));
    }

    regionBack(stack: string): void {
        this.lostRegions.delete(this.regionOf(stack));
        this.dns.regionBack(this.regionOf(stack));
    }

    /**
     * One runbook step: the program run (`name`, as the README names the command) and applying what
     * it declares. Returns the declared step. A demotion stops the server cleanly (CloudNativePG
     * shuts the primary down and archives its last WAL); publishing its token is the next step.
     */
    async step(name: string, step: RunbookStep): Promise<DeclaredStep> {
        const before = this.state.declared[step.stack];
        if (!before) throw new Error(`stack ${step.stack} has no deployed state; start from RunbookDrill.deployed`);
        const region = this.regionOf(step.stack);
        if (this.lostRegions.has(region)) throw new Error(`${name}: the runbook runs pulumi up for ${step.stack}, whose region ${region} is lost`);
        const after = await this.rec.step(name, async () => this.state.run(step, await this.objects()));
        this.checkStaticStability(name, before, after);

        const change = clusterChange(mainCluster(before), mainCluster(after));
        const cluster = mainCluster(after);
        if (change.kind === "promote") {
            const server = this.serverOf(cluster.name);
            if (change.token) {
                const token = change.token;
                await this.rec.step(`CloudNativePG: ${cluster.name} replays up to the promotion token's ${token.latestCheckpointREDOLocation}`, async () => {
                    // pkg/promotiontoken/promotion_token.go: same system identifier and timeline, then the REDO location replayed.
                    const [row] = await server.query<{ id: string }>("SELECT system_identifier::text AS id FROM pg_control_system()");
                    if (row.id !== token.databaseSystemIdentifier) {
                        throw new Error(`promotion token of system ${token.databaseSystemIdentifier}, but ${cluster.name} is system ${row.id}: CloudNativePG refuses it`);
                    }
                    await waitUntil(`replay of ${token.latestCheckpointREDOLocation}`, async () => (await server.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [token.latestCheckpointREDOLocation]))[0].done === true, 60000);
                });
            }
            await this.rec.step(`CloudNativePG: promote ${cluster.name} (pg_promote)`, () => server.query("SELECT pg_promote(true, 120)"));
        } else if (change.kind === "demote") {
            await this.rec.step(`CloudNativePG: demote ${cluster.name} (clean shutdown)`, () => this.serverOf(cluster.name).stop("fast"));
        } else if (change.kind === "rebuild") {
            throw new Error(`${name}: declares a rebuild of ${cluster.name} (bootstrap ${after ? JSON.stringify(change.bootstrap) : ""}), which this scenario does not apply`);
        }
        for (const marker of after.fenceMarkers) {
            const known = before.fenceMarkers.some((m) => m.bucket === marker.bucket && m.key === marker.key && m.content === marker.content);
            if (known) continue;
            await this.rec.step(`fence marker written: s3://${marker.bucket}/${marker.key}`, () =>
                this.t.moto.s3().send(new PutObjectCommand({ Bucket: marker.bucket, Key: marker.key, Body: marker.content, ContentType: marker.contentType })),
            );
        }
        this.dns.apply(step.stack, region, after.dns);
        return after;
    }

    /** What `pulumi up --refresh` publishes once CloudNativePG set status.demotionToken: the stopped server's pg_controldata. */
    async publishDemotionToken(stack: string): Promise<string> {
        const cluster = mainCluster(this.state.declared[stack]);
        const server = this.serverOf(cluster.name);
        if (server.running) throw new Error(`${cluster.name} still runs: no demotion token yet`);
        const out = await runChecked(path.join(postgresBinDir(), "pg_controldata"), ["-D", server.dataDir], {
            env: { PATH: process.env.PATH ?? "", LANG: "C" },
            runAs: server.user.runAs,
            timeoutMs: 30000,
        });
        const token = encodePromotionToken(tokenFromControlData(out.stdout));
        this.state.setOutput(stack, "demotionToken", token);
        return token;
    }

    /** Until the promoted server accepts a write (the README's `kubectl get cluster`: healthy, primary). */
    firstWrite(stack: string): Promise<number> {
        const server = this.serverOf(mainCluster(this.state.declared[stack]).name);
        return this.rec.step(`first write accepted by ${server === this.t.primary ? this.t.primaryServer : this.t.standbyServer}`, () => firstWriteAccepted(this.t.target(server), 60000));
    }

    /** "What if the other region is gone right now?": a step changes only its own region, no replication, no Route53 resource. */
    private checkStaticStability(name: string, before: DeclaredStep, after: DeclaredStep): void {
        const region = this.regionOf(after.stack);
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        this.rec.check(`${name}: no Route53 record or health check changed`, same(before.dns.records, after.dns.records) && same(before.dns.healthChecks, after.dns.healthChecks), "records and health checks as declared before the step");
        this.rec.check(`${name}: no S3 replication changed`, same(before.replication, after.replication), `replication out of ${after.replication?.sourceBucket ?? "(none)"} as before`);
        const foreign = [
            ...after.fenceMarkers.filter((m) => m.bucket !== after.outputs.backupBucket).map((m) => `fence marker in s3://${m.bucket}`),
            ...after.dns.alarms.filter((a) => !same(a, before.dns.alarms.find((b) => b.resource === a.resource)) && a.region !== region).map((a) => `alarm ${a.name} in ${a.region}`),
        ];
        this.rec.check(`${name}: changes only ${region} (the other region may be gone)`, foreign.length === 0, foreign.length === 0 ? `marker in its own bucket, changed alarms in ${region}` : `touches ${foreign.join(", ")}`);
    }
}
