// Storage outage: the S3 endpoint is down under load for longer than archive_timeout; archiving
// keeps trying, PostgreSQL keeps the WAL, and afterwards no segment is missing from the archive.
import { sleep } from "../../local/processes";
import { Topology } from "../topology";
import { Workload } from "../workload";
import { ALERT } from "../../model/alertCatalog";
import { SAMPLING_SECONDS, watchTopology } from "./alerts";
import { archiverStats, Measurement, ScenarioContext } from "./scenario";

/** barman-cloud-wal-archive against a refused connection gives up after about this long (boto's retries; measured, not scaled). */
const BARMAN_FAILURE_SECONDS = 12;

/** The segment names from the first archived one on `last`'s timeline up to `last` that the archive lacks. */
function missingSegments(archived: string[], last: string): { first: string; missing: string[] } {
    const timeline = last.slice(0, 8);
    const onTimeline = archived.filter((x) => x.startsWith(timeline));
    const missing: string[] = [];
    for (let n = parseInt(onTimeline[0].slice(8), 16); n <= parseInt(last.slice(8), 16); n++) {
        const name = `${timeline}${n.toString(16).toUpperCase().padStart(16, "0")}`;
        if (!onTimeline.includes(name)) missing.push(name);
    }
    return { first: onTimeline[0], missing };
}

export async function storageOutage(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }, teardown));
    const alerts = watchTopology(ctx, t, "take");
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await alerts.healthy();
    await sleep(0.2 * s.durationSeconds * 1000);
    const before = await archiverStats(t.primary);
    const downMs = rec.event("S3 endpoint down", "disaster");
    t.s3Link.cut();
    // DrWalArchiveStale: by the threshold the last archival (before the fault) is old enough, and by the
    // next archive_timeout switch (+1 s: PostgreSQL counts it in whole seconds) a segment is ready.
    const staleOnset = Math.max(s.config.alerts.walArchiveAge.thresholdSeconds / s.timeScale, s.archiveTimeoutSeconds) + 1;
    alerts.expect(ALERT.DrWalArchiveStale, "primary", { atMs: downMs, name: "S3 went down" }, staleOnset, "max(threshold, archive_timeout) + 1 s");
    const failingBound = s.archiveTimeoutSeconds + BARMAN_FAILURE_SECONDS + alerts.forSeconds(ALERT.DrWalArchiveFailing, "primary");
    alerts.notExpected(
        ALERT.DrWalArchiveFailing,
        `PostgreSQL records a failure only when barman-cloud-wal-archive gives up, about ${BARMAN_FAILURE_SECONDS} s after it starts (boto's retries, not scaled), ` +
            `so it fires about ${failingBound.toFixed(0)} s after the fault plus sampling; listed among the fired alerts if the outage lasted that long.`,
    );
    // The outage must outlast archive_timeout (or no archive attempt falls inside it) and the stale alert's bound.
    const staleBound = staleOnset + alerts.forSeconds(ALERT.DrWalArchiveStale, "primary") + SAMPLING_SECONDS;
    const outageSeconds = Math.max(0.6 * s.durationSeconds, 2 * s.archiveTimeoutSeconds + 2, staleBound + 1);
    if (outageSeconds > 0.6 * s.durationSeconds) {
        rec.notes.push(`The outage lasted ${outageSeconds.toFixed(0)} s (two archive_timeouts + 2 s, and DrWalArchiveStale's bound + 1 s), longer than 60 % of --duration.`);
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
    const { first, missing } = missingSegments(await t.archivedSegments(t.primaryBucket, t.primaryServer), last);
    // barman-cloud retries inside one attempt before PostgreSQL counts a failure, so the proxy's
    // refused connections are the direct evidence that archiving kept trying.
    const refused = t.s3Link.refusedWhileCut;
    rec.check(
        "archiving kept trying and got nothing through during the outage",
        (refused > 0 || during.failed > before.failed) && during.archived === before.archived,
        `${refused} connections refused, ${during.failed - before.failed} attempts failed, ${during.archived - before.archived} segments archived during the outage`,
    );
    rec.check("PostgreSQL kept the unarchived WAL", ready > 0, `${ready} segments waiting in pg_wal at the end of the outage`);
    rec.check("no WAL segment missing afterwards", missing.length === 0, missing.length === 0 ? `${first}..${last} all archived` : `missing ${missing.join(", ")}`);
    return {
        passSummary: `${outageSeconds.toFixed(0)} s outage, ${refused} refused connections, caught up ${catchUpSeconds.toFixed(1)} s after S3 returned, no segment missing`,
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: [],
        alerts: await alerts.measurement(),
    };
}
