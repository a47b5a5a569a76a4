// Planned switchover: demote the primary (a fast shutdown streams its last WAL), wait for the
// standby to replay up to the demotion point, promote it: zero acknowledged commits lost.
import { sleep } from "../../local/processes";
import { lostCommits } from "../accounting";
import { Topology } from "../topology";
import { Workload } from "../workload";
import { Measurement, rtoTarget, promoteStandby, ScenarioContext, streamingStatus, waitUntil } from "./scenario";
import { watchAlerts } from "./alerts";

export async function plannedSwitchover(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, warm standby)", () => Topology.start(s, { standby: true, ...sabotage }, teardown));
    const standby = t.standby!;
    await waitUntil("the standby to stream", async () => (await streamingStatus(standby)) === "streaming", 30000);
    const alerts = await watchAlerts(ctx, t);
    alerts.notExpected("any", "a planned switchover is not a fault; what fires after the demotion (the old primary's metrics gone, the standby no longer streaming) is listed, not judged.");
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await sleep(0.6 * s.durationSeconds * 1000);
    const startMs = rec.event("switchover: demote the primary", "disaster");
    await rec.step("demote the primary (fast shutdown streams its last WAL)", () => t.primary.stop("fast"));
    await workload.stop();
    const token = await rec.step("read the demotion point (its last checkpoint LSN, as CloudNativePG's token carries)", () => t.stoppedPrimaryCheckpointLsn());
    await rec.step(`standby replays up to ${token}`, () =>
        waitUntil(`replay of ${token}`, async () => (await standby.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [token]))[0].done === true, 60000),
    );
    const { rtoSeconds, present } = await promoteStandby(rec, t, startMs);
    const loss = lostCommits(workload.acked, present, Infinity);
    return {
        passSummary: `0 of ${workload.acked.length} acknowledged commits lost; writes stopped for ${rtoSeconds.toFixed(2)} s`,
        rpo: {
            lostCommits: loss.lost.length,
            acknowledgedCommits: workload.acked.length,
            measuredSeconds: loss.lost.length === 0 ? 0 : (startMs - Math.min(...loss.lost.map((a) => a.ackMs))) / 1000,
            target: { label: "0 commits (planned switchover)", seconds: 0 },
            limitName: "a planned switchover",
            judgedAgainst: "zero acknowledged commits lost",
        },
        rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "region") },
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: loss.lost.map((a) => a.ackMs),
        alerts: await alerts.measurement(),
    };
}
