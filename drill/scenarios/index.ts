// The drill's scenarios, one per file. Each starts its own topology, runs the workload, causes
// its disaster, recovers the way the runbooks do, and measures: RPO as the acknowledged commits
// missing afterwards, RTO as the time until the new primary accepts a write, plus per-step
// timings. runScenario runs one, cleans up whatever it started, and builds its result (result.ts).
import { processTeardown } from "../../local/teardown";
import { DrillSettings } from "../topology";
import { ScenarioResult } from "../types";
import { accidentalDeletion } from "./accidentalDeletion";
import { backupVerification } from "./backupVerification";
import { oldPrimaryReturns } from "./oldPrimaryReturns";
import { plannedSwitchover } from "./plannedSwitchover";
import { regionLoss } from "./regionLoss";
import { failback } from "./failback";
import { firstDeployment } from "./firstDeployment";
import { buildResult } from "./result";
import { Measurement, Recorder, Sabotage, ScenarioDefinition } from "./scenario";
import { storageOutage } from "./storageOutage";

export type { Sabotage, ScenarioDefinition } from "./scenario";

export const SCENARIOS: ScenarioDefinition[] = [
    { name: "region-loss", title: "Region loss under load (the declared standby; judged against drstack:rpo.region)", measure: regionLoss("declared") },
    { name: "region-loss-log-shipping", title: "Region loss with the streaming link already down (log shipping only)", measure: regionLoss("log-shipping") },
    { name: "accidental-deletion", title: "Accidental deletion: point-in-time restore in the primary region to just before the DELETE, rows extracted into the primary", measure: accidentalDeletion("primary") },
    {
        name: "accidental-deletion-standby-region",
        title: "Accidental deletion, then the primary region lost: restore in the standby region from the replicated archive, rows extracted into the promoted standby",
        measure: accidentalDeletion("standby"),
    },
    { name: "backup-verification", title: "Backup verification: the CronJobs' logical and physical restore checks", measure: backupVerification },
    { name: "planned-switchover", title: "Planned switchover: demote, then promote with zero loss", measure: plannedSwitchover },
    { name: "old-primary-returns", title: "Old primary returns after an emergency failover: 0 writes through DNS, fenced within one job interval", measure: oldPrimaryReturns },
    { name: "storage-outage", title: "Storage outage: S3 down under load, no WAL missing afterwards", measure: storageOutage },
    { name: "first-deployment", title: "First deployment from empty buckets: the README sequence, each pulumi up as the program declares it", measure: firstDeployment },
    { name: "failback", title: "Failback to the home region: rebuild the old primary from the new one's archive, then switch over back with zero loss", measure: failback },
];

export async function runScenario(definition: ScenarioDefinition, settings: DrillSettings, sabotage: Sabotage = {}): Promise<ScenarioResult> {
    const rec = new Recorder(settings.log, definition.name);
    settings.log(`scenario ${definition.name}: ${definition.title}`);
    const teardown = processTeardown.scope(`scenario ${definition.name}`);
    let outcome: Measurement | Error;
    try {
        outcome = await definition.measure({ settings, rec, sabotage, teardown });
    } catch (error) {
        outcome = error instanceof Error ? error : new Error(String(error));
    }
    // Nothing the scenario started outlives it; a cleanup that fails makes the scenario an ERROR.
    await teardown.runAll().catch((error: Error) => {
        settings.log(error.message);
        if (!(outcome instanceof Error)) outcome = error;
    });
    const result = buildResult(definition, rec, outcome);
    settings.log(`scenario ${definition.name}: ${result.status}: ${result.summary}`);
    return result;
}
