// Failback to the home region (README "Failback after an emergency failover"), the full cycle, each
// `pulumi up` driven through the program (drill/runbook.ts) and applied as declared
// (drill/localDeployment.ts): the pair deployed from nothing; the home region lost under load; the
// emergency failover of the other stack; the home region back (its old primary stays down: how it
// fences itself is the old-primary-returns scenario); the home stack made a standby with a raised
// rebuild generation, which declares the home Cluster rebuilt by recovery from the new primary's
// archive as replicated into the home bucket: the drill deletes the old server and restores exactly
// that; once it has caught up, the planned switchover back home (demote, token, promote with a
// generation above both, drop the emergency flags). Judged: zero acknowledged commits of the new
// primary lost, and the switchover's downtime against drstack:rto.region.
import { sleep } from "../../local/processes";
import { lostCommits } from "../accounting";
import { hasBaseBackup, Objects, wouldFail } from "../deploySteps";
import { LocalCluster, LocalDeployment } from "../localDeployment";
import { mainCluster, RunbookState } from "../runbook";
import { firstWriteAccepted, presentSeqs, Target, Workload } from "../workload";
import { deployFromNothing } from "./firstDeployment";
import { expectRegionLossAlerts, watchDeployment } from "./alerts";
import { promotionOverrides } from "./runbookApply";
import { Measurement, rtoTarget, ScenarioContext, streamingStatus, waitUntil } from "./scenario";

function target(c: LocalCluster): Target {
    return { host: c.server.host, port: c.server.port, user: c.server.superuser, password: c.server.password };
}

/** What an S3 listing reaches now: a lost region's bucket is absent. */
async function reachable(local: LocalDeployment, lost: string | undefined): Promise<Objects> {
    const objects = await local.refresh();
    const bucket = lost ? local.region(lost).bucket : undefined;
    if (bucket) delete objects[bucket];
    return objects;
}

export async function failback(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, teardown } = ctx;
    const { local, state } = await deployFromNothing(ctx, { idempotence: false });
    const stacks = Object.keys(state.declared);
    const home = stacks.find((st) => local.region(st).cluster?.declared.writable);
    const away = stacks.find((st) => st !== home);
    if (!home || !away) throw new Error(`after the first deployment expected a primary and a standby stack, got ${stacks.join(", ")}`);
    const homeName = local.region(home).cluster!.declared.name;
    const awayName = local.region(away).cluster!.declared.name;
    const alerts = watchDeployment(ctx, local);
    await alerts.healthy();
    const run = (name: string, stack: string, overrides: Record<string, unknown>, lost?: string) =>
        rec.step(name, async () => state.run({ stack, overrides }, await reachable(local, lost)));

    // 1. The home region is lost under load.
    const awayC = local.region(away).cluster!;
    if (awayC.declared.streams) await waitUntil(`${awayName} to stream`, async () => (await streamingStatus(awayC.server)) === "streaming", 60000);
    const before = await Workload.start(target(local.region(home).cluster!), s.rate, rec.start);
    teardown.add("stop the workload on the home region", () => before.stop());
    await sleep(0.4 * s.durationSeconds * 1000);
    const disasterMs = rec.event(`disaster: ${home}'s region lost (${homeName} SIGKILLed, its bucket and replication gone)`, "disaster");
    expectRegionLossAlerts(alerts, awayC.declared.streams, { atMs: disasterMs, name: "the region loss" });
    rec.notes.push("Alerts after the failover (the lost home cluster, then rebuilt and not monitored after its rebuild; the switchover back) are listed, not judged.");
    await rec.step(`${home}'s region lost`, async () => {
        await local.region(home).cluster!.server.stop("kill");
        awayC.link?.cut();
        // Replication out of the lost region stops; into it, nothing can land until it is back.
        for (const r of local.regions.values()) await r.replicator?.stop();
    });
    await before.stop();

    // 2. Emergency failover (README "Emergency failover"): one pulumi up of the surviving stack.
    const promoted = await run(`pulumi up -s ${away} (role primary, emergencyFailover, generation, time)`, away, promotionOverrides(state, true), home);
    const promotion = await rec.step(`apply: CloudNativePG promotes ${awayName}`, () => local.apply(promoted));
    rec.check(`the emergency failover promotes ${awayName}`, promotion.kind === "promote" && mainCluster(promoted).writable, JSON.stringify(promotion));
    await rec.step(`first write accepted by ${awayName}`, () => firstWriteAccepted(target(awayC), 60000));
    const survived = await presentSeqs(target(awayC));
    const failoverLoss = lostCommits(before.acked, survived, disasterMs);
    rec.notes.push(`Emergency failover: ${failoverLoss.lost.length} of ${before.acked.length} acknowledged commits lost (${failoverLoss.spanSeconds.toFixed(3)} s); region-loss judges that against drstack:rpo.region.`);
    const after = await Workload.start(target(awayC), s.rate, rec.start, before.lastSeq + 1000);
    teardown.add("stop the workload on the new primary", () => after.stop());
    await sleep(0.3 * s.durationSeconds * 1000);
    await after.stop();
    // The rebuild restores a base backup of the new primary from the home bucket; its ScheduledBackup
    // runs daily, so the runbook takes one (README "Failback", step 0). Pausing the load here keeps the
    // archive short at the drill's 3 s archive_timeout (see drill/localDeployment.ts).
    await rec.step(`kubectl cnpg backup ${awayName} (a base backup of the new primary)`, () => local.baseBackup(away));

    // 3. The home region returns; static replication resumes both ways (nothing about it changed).
    rec.event(`${home}'s region back: replication resumes; ${homeName} stays down (fenced)`, "info");
    for (const st of stacks) {
        const replication = state.declared[st].replication;
        if (replication) local.startReplication(local.region(st), replication);
    }
    const homeBucket = local.region(home).bucket!;
    await rec.step(`aws s3 ls s3://${homeBucket}/${awayName}/base/ (a base backup of the new primary replicated home)`, () =>
        waitUntil(`a base backup of ${awayName} in ${homeBucket}`, async () => hasBaseBackup(await local.refresh(), homeBucket, awayName), 120000),
    );

    // 4. Failback step 1: role standby + a raised rebuild generation on the home stack.
    const generation = Number(state.config[home]?.["drstack:rebuildGeneration"] ?? 0) + 1;
    const objects = await reachable(local, undefined);
    const rebuilt = await run(`pulumi up -s ${home} (role standby, rebuildGeneration ${generation})`, home, { "drstack:role": "standby", "drstack:rebuildGeneration": generation });
    const declared = mainCluster(rebuilt);
    rec.check(
        `${homeName} is declared rebuilt by recovery from ${awayName}, following it`,
        declared.bootstrap.method === "recovery" && declared.bootstrap.source === awayName && declared.replicaOf === awayName && declared.rebuildGeneration === String(generation),
        JSON.stringify({ bootstrap: declared.bootstrap, replicaOf: declared.replicaOf, rebuildGeneration: declared.rebuildGeneration }),
    );
    const problems = wouldFail(rebuilt, objects, [homeName]);
    rec.check(`the rebuild of ${homeName} can succeed now`, problems.length === 0, problems.join("; ") || `a base backup of ${awayName} is in s3://${homeBucket}/`);
    const rebuild = await rec.step(`apply: ${homeName} deleted, then restored from ${awayName}'s archive in s3://${homeBucket}/ and following it`, () => local.apply(rebuilt));
    rec.check(`the engine replaces ${homeName} (rebuild)`, rebuild.kind === "rebuild", JSON.stringify(rebuild));
    const homeC = local.region(home).cluster!;

    // 5. Wait until the rebuilt cluster has caught up.
    const [{ lsn }] = await awayC.server.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    await rec.step(`${homeName} catches up with ${awayName} (replays ${lsn})`, () =>
        waitUntil(`replay of ${lsn}`, async () => (await homeC.server.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [lsn]))[0].done === true, 120000),
    );
    if (homeC.declared.streams) await rec.step(`${homeName} streams from ${awayName}`, () => waitUntil("streaming", async () => (await streamingStatus(homeC.server)) === "streaming", 60000));

    // 6. Planned switchover back home, under load on the new primary.
    const during = await Workload.start(target(awayC), s.rate, rec.start, after.lastSeq + 1000);
    teardown.add("stop the workload during the switchover", () => during.stop());
    await sleep(0.3 * s.durationSeconds * 1000);
    const switchMs = rec.event(`switchover back: demote ${awayName}`, "disaster");
    // The emergency confirmation goes in the same update: the config check refuses emergencyFailover on a standby.
    const demoted = await run(`pulumi up -s ${away} (role standby; emergencyFailover and promotion.at removed)`, away, {
        "drstack:role": "standby",
        "drstack:emergencyFailover": undefined,
        "drstack:promotion.at": undefined,
    });
    const demotion = await rec.step(`apply: CloudNativePG demotes ${awayName} (clean shutdown)`, () => local.apply(demoted));
    rec.check(`${awayName} is demoted`, demotion.kind === "demote", JSON.stringify(demotion));
    await during.stop();
    await rec.step(`wait for the token: pulumi up -s ${away} --refresh publishes demotionToken`, async () => state.setOutput(away, "demotionToken", await local.demotionToken(away)));
    const back = await run(`pulumi up -s ${home} (role primary, promotion generation above both)`, home, promotionOverrides(state, false));
    const promotionBack = await rec.step(`apply: CloudNativePG promotes ${homeName} once replayed up to the token`, () => local.apply(back));
    rec.check(`${homeName} is promoted with the token`, promotionBack.kind === "promote" && promotionBack.token !== undefined, JSON.stringify(promotionBack));
    await rec.step(`first write accepted by ${homeName}`, () => firstWriteAccepted(target(homeC), 60000));
    const rtoSeconds = (rec.now() - switchMs) / 1000;
    rec.event(`${homeName} primary again`, "recovered");
    await rec.step(`${awayName} follows ${homeName}`, () => local.followAsReplica(away));
    const again = await run(`pulumi up -s ${away} again (idempotence)`, away, {});
    const none = await local.apply(again);
    rec.check(`pulumi up -s ${away} again changes no cluster`, none.kind === "none", JSON.stringify(none));

    // 7. Zero loss, and the pair replicates home -> away again.
    const present = await presentSeqs(target(homeC));
    const acked = [...after.acked, ...during.acked];
    const loss = lostCommits(acked, present, Infinity);
    const kept = before.acked.filter((a) => survived.has(a.seq) && !present.has(a.seq));
    rec.check("every commit that survived the failover is home again", kept.length === 0, `${kept.length} missing`);
    const probe = await Workload.start(target(homeC), s.rate, rec.start, during.lastSeq + 1000);
    await sleep(500);
    await probe.stop();
    await rec.step(`a write on ${homeName} reaches ${awayName}`, () => waitUntil(`seq ${probe.lastSeq} on ${awayName}`, async () => (await presentSeqs(target(awayC))).has(probe.lastSeq), 120000));
    return {
        passSummary: `${homeName} rebuilt from ${awayName}'s replicated archive and primary again: ${loss.lost.length} of ${acked.length} commits acknowledged by ${awayName} lost; writes stopped for ${rtoSeconds.toFixed(2)} s`,
        rpo: {
            lostCommits: loss.lost.length,
            acknowledgedCommits: acked.length,
            measuredSeconds: loss.lost.length === 0 ? 0 : (switchMs - Math.min(...loss.lost.map((a) => a.ackMs))) / 1000,
            target: { label: "0 commits (failback ends with a planned switchover)", seconds: 0 },
            limitName: "a failback",
            judgedAgainst: `zero commits acknowledged by ${awayName} lost (the emergency failover's own loss is judged by region-loss)`,
        },
        rto: { measuredSeconds: rtoSeconds, target: rtoTarget(s, "region") },
        commitsMs: [...before.acked, ...acked].map((a) => a.ackMs),
        lostMs: [...failoverLoss.lost, ...loss.lost].map((a) => a.ackMs),
        alerts: await alerts.measurement(),
    };
}
