// Accidental deletion: a DELETE of a third of the rows under load, then the README runbook "Accidental
// deletion or corruption" step by step (drill/restoreSteps.ts): the commit time found in the archived
// WAL with pg_waldump; the restore the PROGRAM declares for that target (drstack:restore, run under
// mocks: drill/declaredRestore.ts) applied locally; the deleted rows extracted with pg_dump | psql.
// - "primary": in the primary region, from its own archive (the primary stack, source self);
// - "standby": the primary region is lost after the mistake: the standby is promoted (the emergency
//   failover), and the restore runs in the standby region from the primary's archive as replicated
//   into the standby bucket (the dr stack as promoted, source peer); the rows go into the promoted
//   standby, the only primary left.
import { Client } from "pg";
import { sleep } from "../../local/processes";
import { Overrides } from "../../tools/offline/program";
import { lostCommits } from "../accounting";
import { declaredRestore } from "../declaredRestore";
import { extractRows, findMistakeCommit, relationPath, restoreDeclared } from "../restoreSteps";
import { Topology } from "../topology";
import { firstWriteAccepted, presentSeqs, TABLE, Workload } from "../workload";
import { expectRegionLossAlerts, watchTopology } from "./alerts";
import { Measurement, rpoTarget, rtoTarget, ScenarioContext, waitUntil } from "./scenario";

export type RestoreRegion = "primary" | "standby";

/** The restore's name in drstack:restore (the Cluster is <cluster>-restore-drill). */
const RESTORE_NAME = "drill";

/** The dr stack once promoted, with the README "Emergency failover" commands' settings. */
function emergencyFailover(): Overrides {
    return {
        "drstack:role": "primary",
        "drstack:emergencyFailover": true,
        "drstack:promotion.generation": 1,
        "drstack:promotion.at": new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
}

async function walSegment(t: Topology): Promise<string> {
    return (await t.primary.query<{ segment: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment"))[0].segment;
}

export function accidentalDeletion(region: RestoreRegion): (ctx: ScenarioContext) => Promise<Measurement> {
    return async (ctx) => {
        const { settings: s, rec, sabotage, teardown } = ctx;
        const inStandby = region === "standby";
        const t = await rec.step(inStandby ? "start topology (primary, standby, both buckets, replication emulation)" : "start topology (primary, its bucket)", () =>
            Topology.start(s, { standby: inStandby, ...sabotage }, teardown),
        );
        // For the verification only (which rows committed after the mistake), not for the restore.
        await t.primary.query("ALTER SYSTEM SET track_commit_timestamp = on");
        await t.primary.stop("fast");
        await t.primary.restart();
        const alerts = watchTopology(ctx, t, "taken");
        alerts.notExpected("any", "from the DELETE: it is a valid transaction; archiving, backups and replication stay healthy, and no rule can tell a mistake from a change.");
        // The base backup before the load: the restore then replays all of the workload's WAL from the
        // archive. Taken under load, its spread checkpoint and the segments archive_timeout switches
        // meanwhile made archiving fall minutes behind on a loaded 2-core machine at the tests' scale.
        await rec.step("base backup (barman-cloud-backup)", () => t.baseBackup());
        await alerts.healthy();
        const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
        teardown.add("stop the workload", () => workload.stop());
        await sleep(0.4 * s.durationSeconds * 1000);

        const rel = await relationPath(t.target(t.primary), TABLE);
        const firstSegment = await walSegment(t);
        const issuedMs = rec.event(`DELETE FROM ${TABLE} WHERE seq % 3 = 0 (the mistake)`, "disaster");
        const client = new Client({ ...t.target(t.primary), database: "postgres" });
        // pg emits a lost connection as an 'error' event too (lib/client.js _handleErrorEvent), which unhandled
        // ends the whole process; the awaited queries below reject with it, which is how it reaches the caller.
        client.on("error", () => undefined);
        await client.connect();
        let xid: string;
        let deleted: number[];
        try {
            await client.query("BEGIN");
            xid = (await client.query("SELECT txid_current()::text AS xid")).rows[0].xid;
            deleted = (await client.query(`DELETE FROM ${TABLE} WHERE seq % 3 = 0 RETURNING seq`)).rows.map((r) => Number(r.seq));
            await client.query("COMMIT");
        } finally {
            await client.end();
        }
        const lastSegment = await walSegment(t);
        await sleep(0.3 * s.durationSeconds * 1000);
        await workload.stop();
        const archived = await rec.step("archive the WAL up to now", () => t.switchAndWaitArchived());

        let into = t.primary;
        let bucket = t.primaryBucket;
        if (inStandby) {
            await rec.step("the WAL up to now reaches the standby bucket (replication emulation)", () =>
                waitUntil("the last segment in the standby bucket", async () => (await t.archivedSegments(t.standbyBucket, t.primaryServer)).includes(archived), 60000),
            );
            const lostMs = rec.event("disaster: the primary region is lost (primary SIGKILLed, its bucket cut off)", "disaster");
            expectRegionLossAlerts(alerts, t.streams, { atMs: lostMs, name: "the region loss" });
            await t.primary.stop("kill");
            t.s3Link.cut();
            t.link?.cut();
            await t.replicator?.stop();
            await rec.step("emergency failover: promote the standby (README Emergency failover; region RTO, not counted here)", async () => {
                await t.standby!.query("SELECT pg_promote(true, 120)");
                await firstWriteAccepted(t.target(t.standby!), 60000);
            });
            into = t.standby!;
            bucket = t.standbyBucket;
            rec.notes.push(
                `The primary region is gone: the mistake is found in, and restored from, the primary's archive as replicated into ${t.standbyBucket}; ` +
                    "the rows go into the promoted standby, the only primary left. The RTO starts after the failover (measured by region-loss).",
            );
        }

        const restoreStart = rec.now();
        const segments = (await t.archivedSegments(bucket, t.primaryServer)).filter((seg) => seg >= firstSegment && seg <= lastSegment);
        const mistake = await rec.step(`1. find the time of the mistake (barman-cloud-wal-restore + pg_waldump, ${segments.length} segments of s3://${bucket}/)`, () =>
            findMistakeCommit(t.moto, bucket, t.primaryServer, segments, rel),
        );
        rec.check("pg_waldump finds the DELETE's transaction", mistake.xid === xid, `transaction ${mistake.xid} (the DELETE was ${xid}) committed ${mistake.committed}; target ${mistake.target}`);

        const stack = t.declared.stacks[inStandby ? 1 : 0];
        const setting = { name: RESTORE_NAME, target: { time: mistake.target }, source: inStandby ? ("peer" as const) : ("self" as const) };
        const declared = await rec.step(`2. declare the restore (drstack:restore source ${setting.source} on stack ${stack}: the program under mocks)`, () =>
            declaredRestore(stack, setting, { ...s.overrides, ...(inStandby ? emergencyFailover() : {}) }),
        );
        rec.check(
            "the declared recovery target is the time found",
            declared.recoveryTarget?.targetTime === mistake.target,
            `Cluster ${declared.cluster}: recoveryTarget ${JSON.stringify(declared.recoveryTarget)} from ${declared.destinationPath} server ${declared.serverName}`,
        );
        if (declared.bucket !== bucket) {
            throw new Error(`the declared restore reads ${declared.destinationPath}, but this region's archive is s3://${bucket}/: the drill applies only what the stack declares for its own region`);
        }
        const { server: restored, backupId } = await rec.step("2. restore: base backup (barman-cloud-restore) and WAL replay to the declared target", async () => {
            const r = await restoreDeclared(t.moto, declared, "drill-pitr");
            teardown.add("remove the restored instance", () => r.server.cleanup());
            await waitUntil("recovery to reach the target and promote", async () => (await r.server.query("SELECT pg_is_in_recovery() AS r"))[0].r === false, 120000);
            return r;
        });
        rec.event(`restore ready (base backup ${backupId}, ${declared.cluster})`, "info");

        const [{ after }] = await restored.query<{ after: number }>(
            `SELECT count(*)::int AS after FROM ${TABLE} WHERE pg_xact_commit_timestamp(xmin) >= $1::timestamptz`,
            [mistake.committed],
        );
        await rec.step(`3a. extract the rows into the ${inStandby ? "promoted standby" : "primary"} (pg_dump | psql --single-transaction, existing keys kept)`, () =>
            extractRows(restored, t.target(into), TABLE),
        );
        const rtoSeconds = (rec.now() - restoreStart) / 1000;
        rec.event("deleted rows back in the primary", "recovered");

        const present = await presentSeqs(t.target(into));
        const backMissing = deleted.filter((seq) => !present.has(seq));
        const keptMissing = workload.acked.filter((a) => !present.has(a.seq));
        rec.check("every deleted row is back", backMissing.length === 0, `${deleted.length - backMissing.length} of ${deleted.length} deleted rows in the primary again`);
        rec.check("nothing committed after the DELETE is in the restored copy", after === 0, `${after} rows committed at or after ${mistake.committed}`);
        rec.check("every acknowledged commit is in the primary afterwards", keptMissing.length === 0, `${keptMissing.length} of ${workload.acked.length} acknowledged commits missing`);
        const loss = lostCommits(workload.acked, present, issuedMs);
        return {
            passSummary: `${deleted.length} deleted rows back in the ${inStandby ? "promoted standby" : "primary"}, nothing after the DELETE restored; restored and extracted in ${rtoSeconds.toFixed(1)} s`,
            rpo: {
                lostCommits: loss.lost.length,
                acknowledgedCommits: workload.acked.filter((a) => a.ackMs <= issuedMs).length,
                measuredSeconds: loss.spanSeconds,
                target: rpoTarget(s, "data-corruption"),
                limitName: "the data-corruption RPO",
                judgedAgainst: `the data-corruption RPO (point-in-time restore in the ${region} region)`,
            },
            rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "data-corruption") },
            commitsMs: workload.acked.map((a) => a.ackMs),
            lostMs: loss.lost.map((a) => a.ackMs),
            alerts: await alerts.measurement(),
        };
    };
}
