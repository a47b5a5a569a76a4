// Planned switchover, by the README's runbook driven through the program (drill/runbook.ts):
// 1. the primary stack set to standby (`pulumi up -s <primary>`): its Cluster is declared a replica,
//    CloudNativePG demotes it (a clean shutdown; the standby streams its last WAL);
// 2. the demotion token (what `pulumi up --refresh` publishes from the Cluster's status);
// 3. the standby stack set to primary: the program passes the token as spec.replica.promotionToken
//    and CloudNativePG promotes once it has replayed up to it. Zero acknowledged commits lost.
// Not emulated: CloudNativePG archiving the demoted primary's last WAL as a .partial segment (the
// path a standby without streaming depends on); without streaming, step 3 waits until it times out.
import { sleep } from "../../local/processes";
import { lostCommits } from "../accounting";
import { mainCluster } from "../runbook";
import { Topology } from "../topology";
import { presentSeqs, Workload } from "../workload";
import { watchTopology } from "./alerts";
import { promotionOverrides, RunbookDrill } from "./runbookApply";
import { Measurement, rtoTarget, ScenarioContext, streamingStatus, waitUntil } from "./scenario";

/** Step names, as the README's Planned switchover runbook lists them. */
export const SWITCHOVER_STEPS = {
    demote: (primary: string) => `1. pulumi up -s ${primary} (role standby)`,
    token: (primary: string) => `2. wait for the demotion token (pulumi up -s ${primary} --refresh)`,
    promote: (standby: string) => `3. pulumi up -s ${standby} (role primary, promotion generation; the token from the peer)`,
} as const;

export async function plannedSwitchover(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, sabotage, teardown } = ctx;
    const t = await rec.step("start topology (primary, warm standby)", () => Topology.start(s, { standby: true, ...sabotage }, teardown));
    const standby = t.standby!;
    const [home, other] = t.declared.stacks;
    const alerts = watchTopology(ctx, t, "taken");
    const d = await RunbookDrill.deployed(rec, t);
    await alerts.healthy();
    alerts.notExpected("any", "a planned switchover is not a fault; what fires after the demotion (the demoted primary's archiver idle, the standby no longer streaming) is listed, not judged.");
    if (t.streams) await waitUntil("the standby to stream", async () => (await streamingStatus(standby)) === "streaming", 30000);
    const workload = await Workload.start(t.target(t.primary), s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await sleep(0.6 * s.durationSeconds * 1000);
    const startMs = rec.event("switchover: demote the primary", "disaster");
    const demoted = await d.step(SWITCHOVER_STEPS.demote(home), { stack: home, overrides: { "drstack:role": "standby" } });
    rec.check("the runbook declares the primary cluster a replica of the standby", mainCluster(demoted).replicaOf === t.standbyServer, `${mainCluster(demoted).name}: replica.primary ${mainCluster(demoted).replicaOf}`);
    await workload.stop();
    await rec.step(SWITCHOVER_STEPS.token(home), () => d.publishDemotionToken(home));
    const promoted = await d.step(SWITCHOVER_STEPS.promote(other), { stack: other, overrides: promotionOverrides(d.state, false) });
    const cluster = mainCluster(promoted);
    rec.check("the runbook promotes the standby with the demotion token", cluster.writable && cluster.token !== undefined,
        `${cluster.name}: replica.primary = self, promotionToken ${cluster.token ? `at ${cluster.token.latestCheckpointREDOLocation}` : "absent"}, promotedWith ${JSON.stringify(promoted.outputs.promotedWith)}`);
    if (!cluster.writable) throw new Error(`${SWITCHOVER_STEPS.promote(other)} left ${cluster.name} a replica: the runbook does not promote`);
    await d.firstWrite(other);
    const rtoSeconds = (rec.now() - startMs) / 1000;
    rec.event("standby promoted, accepting writes", "recovered");
    const present = await presentSeqs(t.target(standby));
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
