// Region loss under load: the primary is SIGKILLed and its region's bucket cut off; the standby
// is promoted. "declared": the standby the stack declares (streaming only if it streams), judged
// against drstack:rpo.region and failed over by the README's emergency runbook driven through the
// program (emergencyFailover.ts); a log-shipping bound is reported, never judged. "log-shipping": the
// streaming link already down (the degraded state DrStandbyNotStreaming alerts on), judged
// against the predicted bound archive_timeout + upload + replication, each term as measured up to the disaster
// (the upload allowance: alerts.ts; replication: the emulation's slowest copy plus one poll cycle, at least
// the lag + 1 s: replicator.ts copyAllowanceSeconds), so a loaded machine widens the bound by what it
// measurably slowed, not by a constant. The standby's wal_retrieve_retry_interval is not in it: a promotion first
// replays every segment the archive holds (PostgreSQL xlogrecovery.c, WaitForWALToBecomeAvailable: the
// promotion check comes only after the archive had no next segment).
import { formatDuration } from "../../model/duration";
import { logShippingRegionLossBoundSeconds } from "../../model/rpo";
import { sleep } from "../../local/processes";
import { lostCommits } from "../accounting";
import { Topology } from "../topology";
import { replicationFloor } from "../replicator";
import { Workload } from "../workload";
import { ALERT } from "../../model/alertCatalog";
import { expectRegionLossAlerts, watchTopology } from "./alerts";
import { emergencyFailover } from "./emergencyFailover";
import { RunbookDrill } from "./runbookApply";
import { archiverStats, Measurement, randomBetween, rpoTarget, rtoTarget, promoteStandby, ScenarioContext, streamingStatus, waitUntil } from "./scenario";

/** The least the log-shipping bound allows the replication emulation for its poll and copy, beyond the lag. */
const REPLICATION_POLL_AND_COPY_FLOOR_SECONDS = 1;

export function regionLoss(mode: "declared" | "log-shipping"): (ctx: ScenarioContext) => Promise<Measurement> {
    return async (ctx) => {
        const { settings: s, rec, sabotage, teardown } = ctx;
        const t = await rec.step("start topology (primary, warm standby, buckets, replication emulation)", () => Topology.start(s, { standby: true, ...sabotage }, teardown));
        const standby = t.standby!;
        // The declared standby is failed over by the README's emergency runbook, through the program;
        // the degraded log-shipping measurement (and its sabotage tests) promotes directly.
        // The declared pair's deployed state includes the primary's base backup (the ScheduledBackup's
        // immediate one); the log-shipping measurement takes it with the monitoring start.
        const alerts = watchTopology(ctx, t, mode === "declared" ? "taken" : "take");
        const runbook = mode === "declared" ? await RunbookDrill.deployed(rec, t) : undefined;
        await alerts.healthy();
        const streaming = mode === "declared" && t.streams;
        if (mode === "declared" && !t.streams) {
            rec.notes.push(`The stacks declare no streaming (the replica Cluster's source ${t.primaryServer} has no connectionParameters): the standby receives WAL only from the standby bucket's archive.`);
        } else if (!streaming) {
            const cutMs = rec.event("inter-region link cut (degraded: log shipping only)", "disaster");
            if (t.streams) alerts.expect(ALERT.DrStandbyNotStreaming, "standby", { atMs: cutMs, name: "the link cut" }, 1, "the WAL receiver exits on the dropped connection");
            alerts.notExpected(
                ALERT.DrReplicaLagAboveRpo,
                "in the degraded state the standby replays only what the archive brings, so its lag (now minus the last replayed commit) passes the scaled region RPO; " +
                    "whether it stays above for its for: depends on when the segments land: listed among the fired alerts, not judged.",
            );
            t.link!.cut();
            await waitUntil("the standby to stop streaming", async () => (await streamingStatus(standby)) !== "streaming", 30000);
            rec.notes.push("The inter-region streaming link is down from the start: the standby receives WAL only from the standby bucket's archive.");
        } else {
            await waitUntil("the standby to stream", async () => (await streamingStatus(standby)) === "streaming", 30000);
        }
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        teardown.add("stop the workload", () => workload.stop());
        rec.event(`load: ${s.rate} commits/s`, "info");
        // Log shipping can only show its bound once WAL has had time to be archived and replicated.
        const startupUpload = alerts.uploadAllowanceSeconds();
        const earliest = streaming ? 0.5 * s.durationSeconds : Math.max(0.5 * s.durationSeconds, s.archiveTimeoutSeconds + startupUpload.seconds + s.replicationLagSeconds + 2);
        if (!streaming && earliest > 0.5 * s.durationSeconds) {
            rec.notes.push(`The disaster was held until ${earliest.toFixed(1)} s of load (archive_timeout + upload allowance + replication lag + 2 s), longer than half of --duration.`);
        }
        await sleep(randomBetween(earliest, Math.max(earliest, 0.85 * s.durationSeconds)) * 1000);
        const receiverBefore = await streamingStatus(standby);
        const archivedBefore = await archiverStats(t.primary);
        // The upload allowance as measured up to the disaster (what the archive took under this run's load).
        const upload = alerts.uploadAllowanceSeconds();
        // The replication allowance as measured up to the disaster, read before it (copies that end while the
        // primary is being killed do not count).
        const replication =
            t.replicator?.copyAllowanceSeconds(REPLICATION_POLL_AND_COPY_FLOOR_SECONDS) ??
            replicationFloor(s.replicationLagSeconds, REPLICATION_POLL_AND_COPY_FLOOR_SECONDS, "no replication emulation");
        const disasterMs = rec.event("disaster: primary SIGKILLed, its region's bucket cut off", "disaster");
        if (streaming) expectRegionLossAlerts(alerts, true, { atMs: disasterMs, name: "the region loss" });
        await rec.step("primary region lost", async () => {
            await t.primary.stop("kill");
            t.s3Link.cut();
            t.link!.cut();
            await t.replicator?.stop();
            runbook?.regionLost(t.declared.stacks[0]);
        });
        await workload.stop();
        const { rtoSeconds, present } = runbook ? await emergencyFailover(rec, runbook, disasterMs) : await promoteStandby(rec, t, disasterMs);
        const loss = lostCommits(workload.acked, present, disasterMs);

        const replicated = t.replicator?.latenciesMs.length ?? 0;
        if (streaming) {
            rec.check("the standby was streaming at the disaster", receiverBefore === "streaming", `wal receiver status: ${receiverBefore}`);
        } else {
            rec.check("WAL was archived under load", archivedBefore.archived > 0, `${archivedBefore.archived} segments archived, ${archivedBefore.failed} archive attempts failed`);
            rec.check("WAL was replicated to the standby region", replicated > 0, `${replicated} objects copied by the replication emulation`);
            rec.notes.push(
                `Predicted bound: archive_timeout ${s.archiveTimeoutSeconds} s + upload allowance ${upload.seconds.toFixed(1)} s (${upload.why}) + replication ${replication.seconds.toFixed(1)} s (${replication.why}); the standby's wal_retrieve_retry_interval (${t.declared.standbyWalRetrieveRetryInterval}) delays its replay, not what a promotion recovers.`,
            );
            rec.notes.push(
                `In production this path is bounded by ${formatDuration(s.config.wal.logShippingRegionLossBoundSeconds)} (archive_timeout + upload + the 15-minute RTC bound)` +
                    (s.config.wal.regionRpoNeedsStreaming ? `, above drstack:rpo.region ${formatDuration(s.config.rpo.regionSeconds)}: the region RPO must be carried by streaming.` : "."),
            );
        }
        const target = rpoTarget(s, "region");
        const predicted = streaming ? undefined : logShippingRegionLossBoundSeconds(s.archiveTimeoutSeconds, upload.seconds, replication.seconds);
        const judgedByTarget = mode === "declared";
        return {
            passSummary: `lost ${loss.lost.length} of ${workload.acked.length} acknowledged commits (${loss.spanSeconds.toFixed(3)} s); writable again after ${rtoSeconds.toFixed(2)} s`,
            rpo: {
                lostCommits: loss.lost.length,
                acknowledgedCommits: workload.acked.filter((a) => a.ackMs <= disasterMs).length,
                measuredSeconds: loss.spanSeconds,
                target,
                predictedBoundSeconds: predicted,
                limitSeconds: judgedByTarget ? target.seconds : predicted,
                limitName: judgedByTarget ? "the region RPO" : "the predicted log-shipping bound",
                judgedAgainst: judgedByTarget
                    ? `the region RPO (${streaming ? "streaming carries it" : "no streaming declared: log shipping must carry it; the predicted bound is shown, not judged"})`
                    : "the predicted log-shipping bound (archive_timeout + upload + replication, as measured up to the disaster) of the degraded state; the region RPO is shown for comparison",
            },
            rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "region") },
            commitsMs: workload.acked.map((a) => a.ackMs),
            lostMs: loss.lost.map((a) => a.ackMs),
            alerts: await alerts.measurement(),
        };
    };
}
