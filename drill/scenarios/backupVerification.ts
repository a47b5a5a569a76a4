// Backup verification: the verification CronJobs' scripts (logical and physical restore checks)
// run against the primary's bucket as the cluster runs them, timed.
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { formatDuration } from "../../model/duration";
import { JobSandbox } from "../../local/jobSandbox";
import { sleep } from "../../local/processes";
import { Topology } from "../topology";
import { Workload } from "../workload";
import { Measurement, rtoTarget, ScenarioContext } from "./scenario";
import { watchTopology } from "./alerts";

export async function backupVerification(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }, teardown));
    const alerts = watchTopology(ctx, t, "taken");
    alerts.notExpected(
        "any",
        "every job here succeeds, so its published results must fire nothing; a failed restore fires DrRestoreVerificationFailed (for: 0m), proven in test/monitoring/alertsLive.test.ts.",
    );
    const sandbox = JobSandbox.create("drill");
    teardown.add("remove the job sandbox", () => sandbox.cleanup());
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await rec.step("base backup (barman-cloud-backup)", () => t.baseBackup());
    await alerts.healthy();
    await sleep(0.3 * s.durationSeconds * 1000);
    // The load stops before the jobs, which then verify what it wrote. At the drill's scale a segment closes
    // every archive_timeout (3 s at 1:90) under load, about what one barman-cloud-wal-archive run takes on a
    // busy 2-core machine (drill/scenarios/archiveRuns.ts measures it); with the jobs beside it (pg_dump, a
    // scratch server restored and checked with pg_amcheck) the uploads fell behind and DrWalArchiveBacklog
    // fired in the healthy phase (drill test at load average 7): a real backlog of the drill machine, which
    // production's 270 s archive_timeout leaves no room for. And the physical verification replays the
    // archive to its end: under load replay chased the archive without reaching it (a fresh-clone test run
    // timed out after 300 s at segment 0x58). This scenario proves the jobs and the alerts on their results.
    await workload.stop();
    rec.notes.push(
        `The load stopped before the jobs: at archive_timeout ${s.archiveTimeoutSeconds} s (scaled) a loaded run closes segments about as fast as ` +
            "one upload or one restore takes here, and the jobs share the machine's cores with the archiver.",
    );
    const common = { ...t.moto.awsEnv(), S3_ENDPOINT_URL: t.moto.endpoint, S3_BUCKET: t.primaryBucket, CLUSTER_NAME: t.primaryServer, PUSHGATEWAY_URL: alerts.pushgatewayUrl };
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
    const object = await t.moto.s3().send(new GetObjectCommand({ Bucket: t.primaryBucket, Key: `verification/${t.primaryServer}/physical-latest.json` }));
    const result = JSON.parse(Buffer.from(await object.Body!.transformToByteArray()).toString("utf8"));
    const age = Number(result.recovery_point_age_seconds ?? NaN);
    rec.notes.push(`Recovery point reached: ${result.recovery_point_time ?? "unknown"} (LSN ${result.recovery_end_lsn ?? "?"}), ${Number.isNaN(age) ? "?" : age.toFixed(1)} s before the verification finished.`);
    // Not scaled: the verification restores in real time, and its recovery point ages meanwhile.
    const target = { label: `${formatDuration(s.config.rpo.dataCorruptionSeconds)} (drstack:rpo.data-corruption, not scaled)`, seconds: s.config.rpo.dataCorruptionSeconds };
    return {
        passSummary: `logical ${((logical.durationMs ?? 0) / 1000).toFixed(1)} s, physical ${restoreSeconds.toFixed(1)} s, recovery point ${Number.isNaN(age) ? "?" : age.toFixed(1)} s old`,
        rpo: Number.isNaN(age)
            ? undefined
            : {
                  lostCommits: 0,
                  acknowledgedCommits: workload.acked.length,
                  measuredSeconds: age,
                  target,
                  limitName: "the data-corruption RPO",
                  judgedAgainst: "the data-corruption RPO: the age of the newest restorable commit",
              },
        rto: { measuredSeconds: restoreSeconds, target: rtoTarget(s, "data-corruption") },
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: [],
        alerts: await alerts.measurement(),
    };
}
