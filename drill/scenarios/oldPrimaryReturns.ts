// Old primary returns (issue 11 item 7): after an emergency failover by the README runbook
// (emergencyFailover.ts), the lost home region comes back and its SIGKILLed primary starts again
// from its data directory as it was: writable and stale. Two defences must hold:
// - DNS (emulated from the DECLARED records, health checks and the promoted stack's alarm,
//   drill/dnsEmulation.ts): a client writing through the record name must have 0 writes accepted
//   by the old primary;
// - the fence check (the home stack's DECLARED CronJob, scripts/fence-check.sh run for real on the
//   scaled schedule): once S3 replication (emulated from the promoted stack's declared rules)
//   carries the fence marker into the home bucket, the job fences the Cluster (API stand-in) and
//   the drill stops its postmaster as CloudNativePG's fencing does (docs/src/fencing.md @v1.30.0:
//   fast shutdown, then immediate). Judged: fenced within one scaled job interval of the marker's
//   arrival, plus the fencing run's own (unscaled) run time.
// Writes an in-region client sends straight to the old primary before it is fenced are reported.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Client } from "pg";
import { JobSandbox } from "../../local/jobSandbox";
import { KubeApiStandIn } from "../../local/kubeApiStandIn";
import { sleep } from "../../local/processes";
import { CNPG_FENCING } from "../../model/fence";
import { FenceCheckCron } from "../fenceCheckJob";
import { Replicator } from "../replicator";
import { mainCluster } from "../runbook";
import { Topology } from "../topology";
import { TABLE, Workload } from "../workload";
import { expectRegionLossAlerts, watchTopology } from "./alerts";
import { emergencyFailover } from "./emergencyFailover";
import { RunbookDrill } from "./runbookApply";
import { Measurement, ScenarioContext, streamingStatus, waitUntil } from "./scenario";

const SERVICE_ACCOUNT_TOKEN = "drill-fence-check-service-account-token";

/** A client that resolves the record name through the DNS emulation before every write. */
class DnsClient {
    /** Writes acknowledged, per cluster that accepted them. */
    readonly accepted = new Map<string, number>();
    readonly answers = new Map<string, number>();
    failed = 0;
    private running = true;
    private readonly loop: Promise<void>;
    private seq: number;

    constructor(private readonly d: RunbookDrill, readonly name: string, rate: number, firstSeq: number) {
        this.seq = firstSeq;
        this.loop = this.run(1000 / rate);
    }

    private async run(intervalMs: number): Promise<void> {
        while (this.running) {
            const answer = await this.d.dns.resolve(this.name);
            const key = `${answer.record.target} (${answer.why})`;
            this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
            const stack = Object.values(this.d.state.declared).find((s) => s.dns.records.some((r) => r.resource === answer.record.resource && r.target === answer.record.target))!;
            const cluster = mainCluster(stack).name;
            const client = new Client({ ...this.d.t.target(this.d.serverOf(cluster)), database: "postgres", connectionTimeoutMillis: 1000 });
            client.on("error", () => undefined);
            try {
                await client.connect();
                await client.query(`INSERT INTO ${TABLE} (seq) VALUES ($1)`, [this.seq++]);
                this.accepted.set(cluster, (this.accepted.get(cluster) ?? 0) + 1);
            } catch {
                this.failed++;
            } finally {
                await client.end().catch(() => undefined);
            }
            await sleep(intervalMs);
        }
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}

export async function oldPrimaryReturns(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, warm standby, buckets, replication emulation)", () => Topology.start(s, { standby: true, ...sabotage }, teardown));
    const [home, other] = t.declared.stacks;
    const alerts = watchTopology(ctx, t, "taken");
    const d = await RunbookDrill.deployed(rec, t);
    await alerts.healthy();
    if (t.streams) await waitUntil("the standby to stream", async () => (await streamingStatus(t.standby!)) === "streaming", 30000);
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await sleep(0.4 * s.durationSeconds * 1000);
    const disasterMs = rec.event("disaster: primary SIGKILLed, its region lost", "disaster");
    expectRegionLossAlerts(alerts, t.streams, { atMs: disasterMs, name: "the region loss" });
    await rec.step("primary region lost", async () => {
        await t.primary.stop("kill");
        t.s3Link.cut();
        t.link?.cut();
        await t.replicator?.stop();
        d.regionLost(home);
    });
    await workload.stop();
    await emergencyFailover(rec, d, disasterMs);

    const homeState = d.state.declared[home];
    const promoted = d.state.declared[other];
    const recordName = homeState.dns.records[0]?.name;
    if (!recordName) throw new Error(`stack ${home} declares no Route53 record: nothing to resolve`);
    const dnsClient = new DnsClient(d, recordName, Math.min(s.rate, 20), 2_000_000_000);
    teardown.add("stop the DNS client", () => dnsClient.stop());
    await sleep(1000);

    // The region returns as it was: the home stack was not redeployed, so its declared state
    // (role primary, generation 0, its fence-check CronJob) is what runs there.
    const fenceCheck = homeState.fenceCheck;
    if (!fenceCheck) throw new Error(`stack ${home} declares no fence-check CronJob: nothing fences its cluster when its region returns`);
    const oldCluster = mainCluster(homeState);
    const marker = promoted.fenceMarkers[0];
    if (!marker) throw new Error(`stack ${other} declares no fence marker after its emergency failover`);
    if (!promoted.replication) throw new Error(`stack ${other} declares no replication out of ${promoted.outputs.backupBucket}: the marker cannot reach ${home}'s bucket`);

    const api = await KubeApiStandIn.start({ namespace: fenceCheck.namespace, cluster: oldCluster.name, token: SERVICE_ACCOUNT_TOKEN });
    teardown.add("stop the Kubernetes API stand-in", () => api.stop());
    /** When the fence annotation was applied, and when the postmaster had exited. */
    let fenceRequestMs: number | undefined;
    let fencedMs: number | undefined;
    let fencing: Promise<void> | undefined;
    // The operator emulation: the whole cluster fenced -> the postmaster stops (fast shutdown).
    api.onPatch = (cluster) => {
        const annotation = ((cluster.metadata as Record<string, any>).annotations ?? {})[CNPG_FENCING.annotation];
        if (annotation !== CNPG_FENCING.allInstances || fencing) return;
        fenceRequestMs = rec.event(`${oldCluster.name} fenced (${CNPG_FENCING.annotation} ${annotation}): CloudNativePG stops its postmaster`, "info");
        fencing = t.primary.stop("fast").then(() => {
            fencedMs = rec.now();
        });
    };
    const sandbox = JobSandbox.create("drill-fence");
    teardown.add("remove the fence-check sandbox", () => sandbox.cleanup());
    const cron = new FenceCheckCron(
        fenceCheck,
        { sandbox, awsEnv: t.moto.awsEnv(), s3Endpoint: t.moto.endpoint, apiUrl: api.url, tokenFile: sandbox.writeFile("token", SERVICE_ACCOUNT_TOKEN) },
        s.timeScale,
        () => rec.now(),
    );
    teardown.add("stop the fence-check CronJob", () => cron.stop());
    let replicator: Replicator | undefined;
    teardown.add("stop the replication into the returned region", async () => replicator?.stop());

    const returnMs = rec.event(`${home}'s region returns: ${oldCluster.name} restarts from its data directory as it was (stale, writable)`, "info");
    const direct = await rec.step(`${home}'s region returns (old primary restarted, replication resumes, fence-check CronJob every ${(cron.intervalMs / 1000).toFixed(2)} s)`, async () => {
        d.regionBack(home);
        t.s3Link.restore();
        await t.primary.restart();
        // Replication out of the promoted stack's bucket, exactly as it declares it: the marker crosses now.
        replicator = new Replicator(t.moto.s3(), promoted.replication!.sourceBucket, promoted.replication!.rules, s.replicationLagSeconds);
        cron.start();
        // An application inside the returned region, connecting to its cluster directly (not through DNS).
        return Workload.start(t.target(t.primary), Math.min(s.rate, 20), rec.start, 1_000_000_000);
    });
    teardown.add("stop the in-region client", () => direct.stop());
    const markerTarget = (promoted.replication.rules.find((r) => r.enabled && marker.key.startsWith(r.prefix)) ?? { destinationBucket: undefined }).destinationBucket;
    rec.check("the promoted stack's replication selects its fence marker", markerTarget === t.primaryBucket, `s3://${marker.bucket}/${marker.key} -> ${markerTarget ?? "no rule selects it"}`);
    let markerMs: number | undefined;
    await rec.step(`fence marker replicated into s3://${t.primaryBucket}/${marker.key}`, () =>
        waitUntil("the marker in the returned region's bucket", async () => {
            await t.moto.s3().send(new HeadObjectCommand({ Bucket: t.primaryBucket, Key: marker.key }));
            markerMs = rec.now();
            return true;
        }, 60000),
    );
    const limitMs = 10 * cron.intervalMs + 120000;
    await rec.step(`fence check fences ${oldCluster.name} (postmaster stopped)`, () => waitUntil("the old primary to be fenced", async () => fencedMs !== undefined, limitMs));
    await cron.stop();
    await direct.stop();
    await sleep(1000);
    await dnsClient.stop();
    await replicator?.stop();

    const staleViaDns = dnsClient.accepted.get(oldCluster.name) ?? 0;
    const viaDnsNew = dnsClient.accepted.get(mainCluster(promoted).name) ?? 0;
    const fencingRun = cron.runs.find((r) => r.result.stdout.includes("FENCED"));
    // Fast shutdown refuses new sessions and ends the open ones at once; the postmaster exits later
    // (after the shutdown checkpoint and archiving). Writes stop when the in-region client sees its first error.
    const writesStoppedMs = direct.firstErrorMs ?? fencedMs!;
    const afterMarkerMs = writesStoppedMs - markerMs!;
    // With concurrencyPolicy Forbid the marker is seen by the first run that STARTS after it arrives:
    // the run in flight finishes, the next tick comes within one interval, then the fencing run runs.
    // Job run times are real (not scaled); only the interval is scaled.
    const inFlight = cron.runs.find((r) => r.startMs <= markerMs! && r.endMs > markerMs!);
    const inFlightMs = inFlight ? inFlight.endMs - markerMs! : 0;
    const fencingRunMs = fencingRun ? fencingRun.endMs - fencingRun.startMs : 0;
    const allowanceMs = inFlightMs + cron.intervalMs + fencingRunMs + 1000;
    rec.check("writes through DNS accepted by the stale old primary", staleViaDns === 0, `${staleViaDns} (goal 0); ${viaDnsNew} accepted by ${mainCluster(promoted).name}; answers: ${[...dnsClient.answers].map(([k, v]) => `${k}: ${v}`).join("; ")}`);
    rec.check("the old primary is fenced", !t.primary.running && api.annotation() === CNPG_FENCING.allInstances, `${CNPG_FENCING.annotation} = ${api.annotation()}; postmaster ${t.primary.running ? "running" : "stopped"}`);
    rec.check(
        "writes stopped within one fence-check interval of the marker's arrival",
        afterMarkerMs <= allowanceMs,
        `${(afterMarkerMs / 1000).toFixed(2)} s after the marker arrived (postmaster exited after ${((fencedMs! - markerMs!) / 1000).toFixed(2)} s); allowed ${(allowanceMs / 1000).toFixed(2)} s: ` +
            `${(cron.intervalMs / 1000).toFixed(2)} s (${fenceCheck.schedule} scaled 1:${s.timeScale}) + ${(inFlightMs / 1000).toFixed(2)} s left of the run in flight + ${(fencingRunMs / 1000).toFixed(2)} s the fencing run took + 1 s for the operator's shutdown (run times not scaled)`,
    );
    rec.check("every fence-check run succeeded", cron.runs.every((r) => r.result.code === 0) && cron.errors.length === 0,
        `${cron.runs.length} runs, ${cron.runs.filter((r) => r.result.code !== 0).length} failed${cron.runs.filter((r) => r.result.code !== 0).map((r) => `: ${r.result.stderrLines.join(" ")}`).join("")}; ${cron.skipped.length} ticks skipped (Forbid: previous run still running)${cron.errors.map((e) => `; ${e.message.split("\n")[0]}`).join("")}`);
    rec.notes.push(
        `An in-region client writing straight to ${oldCluster.name} (not through DNS) had ${direct.acked.length} writes accepted in the ${((writesStoppedMs - returnMs) / 1000).toFixed(2)} s from its restart to its fence (annotation at +${((fenceRequestMs! - returnMs) / 1000).toFixed(2)} s); those writes exist only on the stale timeline.`,
    );
    // "What if the other region is gone right now?", asked of the DNS emulation (the clients are stopped).
    d.regionLost(other);
    const withoutOther = await d.dns.resolve(recordName);
    d.regionBack(other);
    rec.notes.push(
        `What if ${other}'s region were lost now too: DNS would answer ${withoutOther.record.target} (${withoutOther.why}). ` +
            `Route53 answers the PRIMARY when both records are unhealthy, so a returning ${home} cluster is then kept from writes by the fence marker alone.`,
    );
    return {
        passSummary: `0 writes through DNS to the stale primary (${viaDnsNew} to ${mainCluster(promoted).name}); writes stopped ${(afterMarkerMs / 1000).toFixed(2)} s after the marker arrived (allowed ${(allowanceMs / 1000).toFixed(2)} s); ${direct.acked.length} direct in-region writes before the fence`,
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: [],
        alerts: await alerts.measurement(),
    };
}
