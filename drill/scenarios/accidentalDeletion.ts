// Accidental deletion: a DELETE of a third of the rows, then a point-in-time restore of the base
// backup and the archived WAL into a new instance, to just before the destructive transaction.
import { Client } from "pg";
import { LocalPostgres } from "../../local/postgres";
import { sleep } from "../../local/processes";
import { lostCommits } from "../accounting";
import { Topology } from "../topology";
import { firstWriteAccepted, presentSeqs, TABLE, Workload } from "../workload";
import { Measurement, rpoTarget, rtoTarget, ScenarioContext, waitUntil } from "./scenario";
import { watchAlerts } from "./alerts";

export async function accidentalDeletion(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, its bucket)", () => Topology.start(s, { standby: false, ...sabotage }, teardown));
    await t.primary.query("ALTER SYSTEM SET track_commit_timestamp = on");
    await t.primary.stop("fast");
    await t.primary.restart();
    const alerts = await watchAlerts(ctx, t);
    alerts.notExpected("any", "a DELETE is a valid transaction: archiving, backups and replication stay healthy, and no rule can tell a mistake from a change.");
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
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
    const restored = await rec.step("restore the base backup and replay WAL to just before the DELETE (new instance)", () =>
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
    teardown.add("remove the restored instance", () => restored.cleanup());
    await rec.step("recovery reaches the target and promotes", () =>
        waitUntil("promotion", async () => (await restored.query("SELECT pg_is_in_recovery() AS r"))[0].r === false, 120000),
    );
    await rec.step("first write accepted by the restored instance", () => firstWriteAccepted(t.target(restored), 60000));
    const rtoSeconds = (rec.now() - restoreStart) / 1000;
    rec.event("restored instance accepting writes", "recovered");

    const present = await presentSeqs(t.target(restored));
    const [{ after }] = await restored.query<{ after: number }>(
        `SELECT count(*)::int AS after FROM ${TABLE} WHERE seq > 0 AND pg_xact_commit_timestamp(xmin) >= $1::timestamptz`,
        [deletedAt],
    );
    const backMissing = deleted.filter((seq) => !present.has(seq));
    rec.check("every deleted row is back", backMissing.length === 0, `${deleted.length - backMissing.length} of ${deleted.length} deleted rows restored`);
    rec.check("nothing committed after the DELETE is present", after === 0, `${after} rows committed at or after ${deletedAt}`);
    // Commits acknowledged before the DELETE was issued must all be there.
    const loss = lostCommits(workload.acked, present, issuedMs);
    return {
        passSummary: `${deleted.length} deleted rows back, nothing after the DELETE, restored and writable in ${rtoSeconds.toFixed(1)} s`,
        rpo: {
            lostCommits: loss.lost.length,
            acknowledgedCommits: workload.acked.filter((a) => a.ackMs <= issuedMs).length,
            measuredSeconds: loss.spanSeconds,
            target: rpoTarget(s, "data-corruption"),
            limitName: "the data-corruption RPO",
            judgedAgainst: "the data-corruption RPO (point-in-time restore in-region)",
        },
        rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "data-corruption") },
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: loss.lost.map((a) => a.ackMs),
        alerts: await alerts.measurement(),
    };
}
