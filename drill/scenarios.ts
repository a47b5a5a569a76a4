// The drill's scenarios. Each starts its own topology, runs the workload, causes its disaster,
// recovers the way the runbooks do, and measures: RPO as the acknowledged commits missing
// afterwards, RTO as the time until the new primary accepts a write, plus per-step timings.
import { Client } from "pg";
import { formatDuration } from "../model/duration";
import { logShippingRegionLossBoundSeconds } from "../model/rpo";
import { JobSandbox } from "../local/jobSandbox";
import { LocalPostgres } from "../local/postgres";
import { sleep } from "../local/processes";
import { lostCommits } from "./accounting";
import { DrillSettings, Topology, TopologyOptions } from "./topology";
import { Check, ScenarioResult, Status, Step, Target, TimelineEvent } from "./types";
import { firstWriteAccepted, presentSeqs, TABLE, Workload } from "./workload";

/** Deliberate breakage, for tests that show a sabotaged setup makes the drill FAIL clearly. */
export type Sabotage = Pick<TopologyOptions, "archiveCommand" | "replicator">;

class Recorder {
    readonly start = Date.now();
    readonly startedAt = new Date(this.start).toISOString();
    readonly steps: Step[] = [];
    readonly events: TimelineEvent[] = [];
    readonly checks: Check[] = [];
    readonly notes: string[] = [];

    constructor(private readonly log: (line: string) => void, private readonly scenario: string) {}

    now(): number {
        return Date.now() - this.start;
    }

    async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
        const startMs = this.now();
        this.log(`  [${this.scenario}] ${name} ...`);
        try {
            return await fn();
        } finally {
            const endMs = this.now();
            this.steps.push({ name, startMs, endMs });
            this.log(`  [${this.scenario}] ${name}: ${((endMs - startMs) / 1000).toFixed(2)} s`);
        }
    }

    event(label: string, kind: TimelineEvent["kind"]): number {
        const atMs = this.now();
        this.events.push({ atMs, label, kind });
        this.log(`  [${this.scenario}] ${label}`);
        return atMs;
    }

    check(name: string, ok: boolean, detail: string): boolean {
        this.checks.push({ name, ok, detail });
        return ok;
    }
}

function rpoTarget(s: DrillSettings, kind: "region" | "data-corruption"): Target {
    const seconds = kind === "region" ? s.config.rpo.regionSeconds : s.config.rpo.dataCorruptionSeconds;
    return {
        label: `${formatDuration(seconds)} (drstack:rpo.${kind}, scaled 1:${s.timeScale})`,
        seconds: seconds / s.timeScale,
    };
}

function rtoTarget(s: DrillSettings, kind: "region" | "data-corruption"): Target {
    const seconds = kind === "region" ? s.config.rto.regionSeconds : s.config.rto.dataCorruptionSeconds;
    return { label: `${formatDuration(seconds)} (drstack:rto.${kind}, not scaled)`, seconds };
}

function randomBetween(min: number, max: number): number {
    return min + Math.random() * (max - min);
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const start = Date.now();
    while (!(await probe().catch(() => false))) {
        if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(100);
    }
}

async function streamingStatus(standby: LocalPostgres): Promise<string> {
    const rows = await standby.query<{ status: string }>("SELECT status FROM pg_stat_wal_receiver");
    return rows[0]?.status ?? "not streaming";
}

async function archiverStats(pg: LocalPostgres): Promise<{ archived: number; failed: number }> {
    const [row] = await pg.query<{ archived: number; failed: number }>("SELECT archived_count::int AS archived, failed_count::int AS failed FROM pg_stat_archiver");
    return row;
}

interface Outcome {
    status: Status;
    summary: string;
}

/** PASS only when every check passed and the measured values are within their bounds. */
function judge(rec: Recorder, bounds: { ok: boolean; failure: string }[], passSummary: string): Outcome {
    const failed = [...rec.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`), ...bounds.filter((b) => !b.ok).map((b) => b.failure)];
    return failed.length === 0 ? { status: "PASS", summary: passSummary } : { status: "FAIL", summary: failed.join("; ") };
}

type ScenarioBody = (s: DrillSettings, rec: Recorder, sabotage: Sabotage) => Promise<Omit<ScenarioResult, "name" | "title" | "startedAt" | "durationMs" | "steps" | "checks" | "notes" | "timeline"> & { timeline: Pick<ScenarioResult["timeline"], "commitsMs" | "lostMs"> }>;

interface ScenarioDefinition {
    name: string;
    title: string;
    body: ScenarioBody;
}

// ---- region loss (streaming, and log shipping only) ----

function regionLoss(streaming: boolean): ScenarioBody {
    return async (s, rec, sabotage) => {
        const t = await rec.step("start topology (primary, warm standby, buckets, replication emulation)", () => Topology.start(s, { standby: true, ...sabotage }));
        try {
            const standby = t.standby!;
            if (!streaming) {
                t.link!.cut();
                await waitUntil("the standby to stop streaming", async () => (await streamingStatus(standby)) !== "streaming", 30000);
                rec.notes.push("The inter-region streaming link is down from the start: the standby receives WAL only from the standby bucket's archive.");
            } else {
                await waitUntil("the standby to stream", async () => (await streamingStatus(standby)) === "streaming", 30000);
            }
            const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
            rec.event(`load: ${s.rate} commits/s`, "info");
            // Log shipping can only show its bound once WAL has had time to be archived and replicated.
            const earliest = streaming ? 0.5 * s.durationSeconds : Math.max(0.5 * s.durationSeconds, s.archiveTimeoutSeconds + s.replicationLagSeconds + 2);
            if (!streaming && earliest > 0.5 * s.durationSeconds) {
                rec.notes.push(`The disaster was held until ${earliest.toFixed(1)} s of load (archive_timeout + replication lag + 2 s), longer than half of --duration.`);
            }
            await sleep(randomBetween(earliest, Math.max(earliest, 0.85 * s.durationSeconds)) * 1000);
            const receiverBefore = await streamingStatus(standby);
            const archivedBefore = await archiverStats(t.primary);
            const disasterMs = rec.event("disaster: primary SIGKILLed, its region's bucket cut off", "disaster");
            await rec.step("primary region lost", async () => {
                await t.primary.stop("kill");
                t.s3Link.cut();
                t.link!.cut();
                await t.replicator?.stop();
            });
            await workload.stop();
            await rec.step("promote the standby (pg_promote)", () => standby.query("SELECT pg_promote(true, 120)"));
            await rec.step("first write accepted by the new primary", () => firstWriteAccepted(t.target(standby), 60000));
            const rtoSeconds = (rec.now() - disasterMs) / 1000;
            rec.event("standby promoted, accepting writes", "recovered");
            const present = await presentSeqs(t.target(standby));
            const loss = lostCommits(workload.acked, present, disasterMs);

            const replicated = t.replicator?.latenciesMs.length ?? 0;
            const target = rpoTarget(s, "region");
            if (streaming) {
                rec.check("the standby was streaming at the disaster", receiverBefore === "streaming", `wal receiver status: ${receiverBefore}`);
            } else {
                rec.check("WAL was archived under load", archivedBefore.archived > 0, `${archivedBefore.archived} segments archived, ${archivedBefore.failed} archive attempts failed`);
                rec.check("WAL was replicated to the standby region", replicated > 0, `${replicated} objects copied by the replication emulation`);
                rec.notes.push(
                    `Predicted bound: archive_timeout ${s.archiveTimeoutSeconds} s + upload allowance ${s.uploadAllowanceSeconds.toFixed(1)} s + replication lag ${s.replicationLagSeconds} s + standby archive poll 1 s.`,
                );
                rec.notes.push(
                    `In production this path is bounded by ${formatDuration(s.config.wal.logShippingRegionLossBoundSeconds)} (archive_timeout + upload + the 15-minute RTC bound)` +
                        (s.config.wal.regionRpoNeedsStreaming ? `, above drstack:rpo.region ${formatDuration(s.config.rpo.regionSeconds)}: the region RPO must be carried by streaming.` : "."),
                );
            }
            const predicted = streaming ? undefined : logShippingRegionLossBoundSeconds(s.archiveTimeoutSeconds, s.uploadAllowanceSeconds, s.replicationLagSeconds) + 1;
            const judgedSeconds = streaming ? target.seconds : predicted!;
            const outcome = judge(
                rec,
                [
                    {
                        ok: loss.spanSeconds <= judgedSeconds,
                        failure: `lost ${loss.lost.length} acknowledged commits spanning ${loss.spanSeconds.toFixed(3)} s, above ${streaming ? "the region RPO" : "the predicted log-shipping bound"} of ${judgedSeconds.toFixed(1)} s`,
                    },
                    { ok: rtoSeconds <= rtoTarget(s, "region").seconds, failure: `RTO ${rtoSeconds.toFixed(1)} s above the target` },
                ],
                `lost ${loss.lost.length} of ${workload.acked.length} acknowledged commits (${loss.spanSeconds.toFixed(3)} s); writable again after ${rtoSeconds.toFixed(2)} s`,
            );
            return {
                ...outcome,
                rpo: {
                    lostCommits: loss.lost.length,
                    acknowledgedCommits: workload.acked.filter((a) => a.ackMs <= disasterMs).length,
                    measuredSeconds: loss.spanSeconds,
                    target,
                    predictedBoundSeconds: predicted,
                    limitSeconds: judgedSeconds,
                    judgedAgainst: streaming
                        ? "the region RPO (streaming carries it)"
                        : "the predicted log-shipping bound (archive_timeout + upload + replication lag + poll); the region RPO is shown for comparison",
                },
                rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "region") },
                timeline: { commitsMs: workload.acked.map((a) => a.ackMs), lostMs: loss.lost.map((a) => a.ackMs) },
            };
        } finally {
            await t.cleanup();
        }
    };
}

// ---- accidental deletion: point-in-time restore to just before the destructive statement ----

const accidentalDeletion: ScenarioBody = async (s, rec, sabotage) => {
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }));
    let restored: LocalPostgres | undefined;
    try {
        await t.primary.query("ALTER SYSTEM SET track_commit_timestamp = on");
        await t.primary.stop("fast");
        await t.primary.restart();
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        await rec.step("base backup (barman-cloud-backup)", () => t.baseBackup());
        await sleep(0.4 * s.durationSeconds * 1000);

        const issuedMs = rec.event("DELETE FROM drill_commits WHERE seq % 3 = 0 (the mistake)", "disaster");
        const client = new Client({ ...t.target(t.primary), database: "postgres" });
        await client.connect();
        let xid: string;
        let deleted: number[];
        let deletedAt: string;
        try {
            await client.query("BEGIN");
            xid = (await client.query("SELECT txid_current()::text AS xid")).rows[0].xid;
            deleted = (await client.query(`DELETE FROM ${TABLE} WHERE seq % 3 = 0 RETURNING seq`)).rows.map((r) => Number(r.seq));
            await client.query("COMMIT");
            deletedAt = (await client.query("SELECT pg_xact_commit_timestamp($1::xid)::text AS at", [xid])).rows[0].at;
        } finally {
            await client.end();
        }
        await sleep(0.3 * s.durationSeconds * 1000);
        await workload.stop();
        await rec.step("archive the WAL up to now", () => t.switchAndWaitArchived());

        const restoreStart = rec.now();
        const backupId = await rec.step("find the newest base backup", () => t.latestBackupId());
        restored = await rec.step("restore the base backup and replay WAL to just before the DELETE (new instance)", () =>
            LocalPostgres.adopt({
                name: "drill-pitr",
                env: t.moto.awsEnv(),
                populate: (server) =>
                    server.run("barman-cloud-restore", ["--endpoint-url", t.moto.endpoint, `s3://${t.primaryBucket}/`, t.primaryServer, backupId, server.dataDir]),
                settings: {
                    restore_command: `barman-cloud-wal-restore --endpoint-url ${t.moto.endpoint} s3://${t.primaryBucket}/ ${t.primaryServer} %f %p`,
                    recovery_target_xid: xid,
                    recovery_target_inclusive: false,
                    recovery_target_action: "promote",
                    // A restored copy must never archive into the production archive.
                    archive_mode: "off",
                },
                signal: "recovery",
            }),
        );
        const r = restored;
        await rec.step("recovery reaches the target and promotes", () => waitUntil("promotion", async () => (await r.query("SELECT pg_is_in_recovery() AS r"))[0].r === false, 120000));
        await rec.step("first write accepted by the restored instance", () => firstWriteAccepted(t.target(r), 60000));
        const rtoSeconds = (rec.now() - restoreStart) / 1000;
        rec.event("restored instance accepting writes", "recovered");

        const present = await presentSeqs(t.target(r));
        const [{ after }] = await r.query<{ after: number }>(
            `SELECT count(*)::int AS after FROM ${TABLE} WHERE seq > 0 AND pg_xact_commit_timestamp(xmin) >= $1::timestamptz`,
            [deletedAt],
        );
        const backMissing = deleted.filter((seq) => !present.has(seq));
        rec.check("every deleted row is back", backMissing.length === 0, `${deleted.length - backMissing.length} of ${deleted.length} deleted rows restored`);
        rec.check("nothing committed after the DELETE is present", after === 0, `${after} rows committed at or after ${deletedAt}`);
        // Commits acknowledged before the DELETE was issued must all be there.
        const loss = lostCommits(workload.acked, present, issuedMs);
        const target = rpoTarget(s, "data-corruption");
        const outcome = judge(
            rec,
            [
                { ok: loss.spanSeconds <= target.seconds, failure: `lost ${loss.lost.length} commits acknowledged before the DELETE (${loss.spanSeconds.toFixed(3)} s), above the RPO` },
                { ok: rtoSeconds <= rtoTarget(s, "data-corruption").seconds, failure: `restore took ${rtoSeconds.toFixed(1)} s, above the RTO` },
            ],
            `${deleted.length} deleted rows back, nothing after the DELETE, restored and writable in ${rtoSeconds.toFixed(1)} s`,
        );
        return {
            ...outcome,
            rpo: {
                lostCommits: loss.lost.length,
                acknowledgedCommits: workload.acked.filter((a) => a.ackMs <= issuedMs).length,
                measuredSeconds: loss.spanSeconds,
                target,
                judgedAgainst: "the data-corruption RPO (point-in-time restore in-region)",
            },
            rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "data-corruption") },
            timeline: { commitsMs: workload.acked.map((a) => a.ackMs), lostMs: loss.lost.map((a) => a.ackMs) },
        };
    } finally {
        await restored?.cleanup();
        await t.cleanup();
    }
};

// ---- backup verification: the CronJobs' scripts, timed ----

const backupVerification: ScenarioBody = async (s, rec, sabotage) => {
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }));
    const sandbox = JobSandbox.create("drill");
    try {
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        await rec.step("base backup (barman-cloud-backup)", () => t.baseBackup());
        await sleep(0.3 * s.durationSeconds * 1000);
        const common = { ...t.moto.awsEnv(), S3_ENDPOINT_URL: t.moto.endpoint, S3_BUCKET: t.primaryBucket, CLUSTER_NAME: t.primaryServer };
        const { PGDATABASE: _, ...connection } = t.primary.connectionEnv();
        const dump = await rec.step("logical backup (scripts/logical-backup.sh)", () => sandbox.run("logical-backup.sh", { ...common, ...connection, BACKUP_DATABASES: "postgres" }));
        rec.check("logical backup", dump.code === 0, dump.code === 0 ? "manifest written" : dump.stderrLines.join(" "));
        const logical = await rec.step("logical restore verification (scripts/verify-logical.sh)", () => sandbox.run("verify-logical.sh", common));
        rec.check("logical restore verification", logical.code === 0, logical.code === 0 ? "checksums, row counts, pg_amcheck passed" : logical.stderrLines.join(" "));
        await rec.step("archive the WAL up to now", () => t.switchAndWaitArchived());
        const physicalStart = rec.now();
        // The recovery point is judged against the production RPO, unscaled: the restore itself takes real time.
        const physical = await rec.step("physical restore verification (scripts/verify-physical.sh)", () =>
            sandbox.run("verify-physical.sh", {
                ...common,
                BARMAN_DESTINATION: `s3://${t.primaryBucket}/`,
                BARMAN_SERVER_NAME: t.primaryServer,
                RPO_SECONDS: String(s.config.rpo.dataCorruptionSeconds),
            }),
        );
        const restoreSeconds = (rec.now() - physicalStart) / 1000;
        rec.check("physical restore verification", physical.code === 0, physical.code === 0 ? "base backup + WAL replayed to the end, no gap, recovery point within the RPO" : physical.stderrLines.join(" "));
        await workload.stop();
        const result = JSON.parse(
            Buffer.from(
                await (await t.moto.s3().send(new (await import("@aws-sdk/client-s3")).GetObjectCommand({ Bucket: t.primaryBucket, Key: `verification/${t.primaryServer}/physical-latest.json` }))).Body!.transformToByteArray(),
            ).toString("utf8"),
        );
        const age = Number(result.recovery_point_age_seconds ?? NaN);
        rec.notes.push(`Recovery point reached: ${result.recovery_point_time ?? "unknown"} (LSN ${result.recovery_end_lsn ?? "?"}), ${Number.isNaN(age) ? "?" : age.toFixed(1)} s before the verification finished.`);
        // Not scaled: the verification restores in real time, and its recovery point ages meanwhile.
        const target = { label: `${formatDuration(s.config.rpo.dataCorruptionSeconds)} (drstack:rpo.data-corruption, not scaled)`, seconds: s.config.rpo.dataCorruptionSeconds };
        const outcome = judge(rec, [], `logical ${((logical.durationMs ?? 0) / 1000).toFixed(1)} s, physical ${restoreSeconds.toFixed(1)} s, recovery point ${Number.isNaN(age) ? "?" : age.toFixed(1)} s old`);
        return {
            ...outcome,
            rpo: Number.isNaN(age)
                ? undefined
                : { lostCommits: 0, acknowledgedCommits: workload.acked.length, measuredSeconds: age, target, judgedAgainst: "the data-corruption RPO: the age of the newest restorable commit" },
            rto: { measuredSeconds: restoreSeconds, target: rtoTarget(s, "data-corruption") },
            timeline: { commitsMs: workload.acked.map((a) => a.ackMs), lostMs: [] },
        };
    } finally {
        sandbox.cleanup();
        await t.cleanup();
    }
};

// ---- planned switchover: demote, then promote with zero acknowledged commits lost ----

const plannedSwitchover: ScenarioBody = async (s, rec, sabotage) => {
    const t = await rec.step("start topology (primary, warm standby)", () => Topology.start(s, { standby: true, ...sabotage }));
    try {
        const standby = t.standby!;
        await waitUntil("the standby to stream", async () => (await streamingStatus(standby)) === "streaming", 30000);
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        await sleep(0.6 * s.durationSeconds * 1000);
        const startMs = rec.event("switchover: demote the primary", "disaster");
        await rec.step("demote the primary (fast shutdown streams its last WAL)", () => t.primary.stop("fast"));
        await workload.stop();
        const token = await rec.step("read the demotion point (its last checkpoint LSN, as CloudNativePG's token carries)", () => t.stoppedPrimaryCheckpointLsn());
        await rec.step(`standby replays up to ${token}`, () =>
            waitUntil(`replay of ${token}`, async () => (await standby.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [token]))[0].done === true, 60000),
        );
        await rec.step("promote the standby", () => standby.query("SELECT pg_promote(true, 120)"));
        await rec.step("first write accepted by the new primary", () => firstWriteAccepted(t.target(standby), 60000));
        const rtoSeconds = (rec.now() - startMs) / 1000;
        rec.event("standby promoted, accepting writes", "recovered");
        const present = await presentSeqs(t.target(standby));
        const loss = lostCommits(workload.acked, present, Infinity);
        const outcome = judge(
            rec,
            [
                { ok: loss.lost.length === 0, failure: `lost ${loss.lost.length} acknowledged commits in a planned switchover (must be 0)` },
                { ok: rtoSeconds <= rtoTarget(s, "region").seconds, failure: `switchover took ${rtoSeconds.toFixed(1)} s, above the RTO` },
            ],
            `0 of ${workload.acked.length} acknowledged commits lost; writes stopped for ${rtoSeconds.toFixed(2)} s`,
        );
        return {
            ...outcome,
            rpo: {
                lostCommits: loss.lost.length,
                acknowledgedCommits: workload.acked.length,
                measuredSeconds: loss.lost.length === 0 ? 0 : (startMs - Math.min(...loss.lost.map((a) => a.ackMs))) / 1000,
                target: { label: "0 commits (planned switchover)", seconds: 0 },
                judgedAgainst: "zero acknowledged commits lost",
            },
            rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "region") },
            timeline: { commitsMs: workload.acked.map((a) => a.ackMs), lostMs: loss.lost.map((a) => a.ackMs) },
        };
    } finally {
        await t.cleanup();
    }
};

// ---- storage outage: S3 down under load; afterwards no WAL is missing ----

const storageOutage: ScenarioBody = async (s, rec, sabotage) => {
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }));
    try {
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        await sleep(0.2 * s.durationSeconds * 1000);
        const before = await archiverStats(t.primary);
        rec.event("S3 endpoint down", "disaster");
        t.s3Link.cut();
        // The outage must outlast archive_timeout, or no archive attempt falls inside it.
        const outageSeconds = Math.max(0.6 * s.durationSeconds, 2 * s.archiveTimeoutSeconds + 2);
        if (outageSeconds > 0.6 * s.durationSeconds) {
            rec.notes.push(`The outage lasted ${outageSeconds.toFixed(0)} s (two archive_timeouts + 2 s), longer than 60 % of --duration, so archiving is attempted during it.`);
        }
        await sleep(outageSeconds * 1000);
        const during = await archiverStats(t.primary);
        const [{ ready }] = await t.primary.query<{ ready: number }>("SELECT count(*)::int AS ready FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready'");
        t.s3Link.restore();
        const backMs = rec.event("S3 endpoint back", "recovered");
        await sleep(0.2 * s.durationSeconds * 1000);
        await workload.stop();
        const last = await rec.step("archive catches up (segment switch, wait)", () => t.switchAndWaitArchived());
        const catchUpSeconds = (rec.now() - backMs) / 1000;
        const segments = await t.archivedSegments(t.primaryBucket, t.primaryServer);
        const timeline = last.slice(0, 8);
        const onTimeline = segments.filter((x) => x.startsWith(timeline));
        const missing: string[] = [];
        for (let n = parseInt(onTimeline[0].slice(8), 16); n <= parseInt(last.slice(8), 16); n++) {
            const name = `${timeline}${n.toString(16).toUpperCase().padStart(16, "0")}`;
            if (!onTimeline.includes(name)) missing.push(name);
        }
        // barman-cloud retries inside one attempt before PostgreSQL counts a failure, so the proxy's
        // refused connections are the direct evidence that archiving kept trying.
        const refused = t.s3Link.refusedWhileCut;
        rec.check(
            "archiving kept trying and got nothing through during the outage",
            (refused > 0 || during.failed > before.failed) && during.archived === before.archived,
            `${refused} connections refused, ${during.failed - before.failed} attempts failed, ${during.archived - before.archived} segments archived during the outage`,
        );
        rec.check("PostgreSQL kept the unarchived WAL", ready > 0, `${ready} segments waiting in pg_wal at the end of the outage`);
        rec.check("no WAL segment missing afterwards", missing.length === 0, missing.length === 0 ? `${onTimeline[0]}..${last} all archived` : `missing ${missing.join(", ")}`);
        const outcome = judge(rec, [], `${outageSeconds.toFixed(0)} s outage, ${refused} refused connections, caught up ${catchUpSeconds.toFixed(1)} s after S3 returned, no segment missing`);
        return {
            ...outcome,
            timeline: { commitsMs: workload.acked.map((a) => a.ackMs), lostMs: [] },
        };
    } finally {
        await t.cleanup();
    }
};

export const SCENARIOS: ScenarioDefinition[] = [
    { name: "region-loss", title: "Region loss under load (streaming standby)", body: regionLoss(true) },
    { name: "region-loss-log-shipping", title: "Region loss with the streaming link already down (log shipping only)", body: regionLoss(false) },
    { name: "accidental-deletion", title: "Accidental deletion: point-in-time restore to just before the DELETE", body: accidentalDeletion },
    { name: "backup-verification", title: "Backup verification: the CronJobs' logical and physical restore checks", body: backupVerification },
    { name: "planned-switchover", title: "Planned switchover: demote, then promote with zero loss", body: plannedSwitchover },
    { name: "storage-outage", title: "Storage outage: S3 down under load, no WAL missing afterwards", body: storageOutage },
];

/** The first line of an error and, when it quotes tool output, the tool's last words (the cause). */
function errorSummary(error: Error): string {
    const lines = error.message.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const cause = lines.slice(1).filter((l) => /error|fatal|failed|cannot|could not|not found|denied/i.test(l)).slice(-2);
    return [lines[0], ...cause].join(" | ");
}

export async function runScenario(definition: ScenarioDefinition, s: DrillSettings, sabotage: Sabotage = {}): Promise<ScenarioResult> {
    const rec = new Recorder(s.log, definition.name);
    s.log(`scenario ${definition.name}: ${definition.title}`);
    let body: Awaited<ReturnType<ScenarioBody>> | undefined;
    let error: Error | undefined;
    try {
        body = await definition.body(s, rec, sabotage);
    } catch (e) {
        error = e as Error;
    }
    const result: ScenarioResult = {
        name: definition.name,
        title: definition.title,
        status: error ? "ERROR" : body!.status,
        summary: error ? `the scenario could not complete: ${errorSummary(error)}` : body!.summary,
        startedAt: rec.startedAt,
        durationMs: rec.now(),
        rpo: body?.rpo,
        rto: body?.rto,
        steps: rec.steps,
        checks: rec.checks,
        timeline: { commitsMs: body?.timeline.commitsMs ?? [], lostMs: body?.timeline.lostMs ?? [], events: rec.events },
        notes: rec.notes,
    };
    s.log(`scenario ${definition.name}: ${result.status}: ${result.summary}`);
    return result;
}
