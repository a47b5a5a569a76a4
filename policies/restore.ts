// Point-in-time restore clusters (drstack:restore): on a preview, the same rules the config checks
// apply before deploying. A restore Cluster (the restore label, model/restore.ts) must be created
// by recovery, must not archive (it would write into an archive), and a time target must parse,
// not be in the future and lie inside the recovery window. The archiving and role policies skip
// these clusters; this policy is what holds them.
import { BARMAN_CLOUD_PLUGIN, LABELS } from "../model/contract";
import { isRestoreCluster, LSN, recoveryTimeProblem } from "../model/restore";
import { T } from "./stack";
import { describe, fixedIn, resourcePolicy, setting, targetsOf } from "./targets";

const RESTORE_FILE = "components/postgres/restore.ts";

/** The policy, with the clock injected (tests pass a fixed one). */
export function restoreTargetPolicy(nowMs: () => number = Date.now) {
    return resourcePolicy({
        name: "point-in-time-restore-target",
        description: "A point-in-time restore cluster recovers from the archive without archiving, to a target that is not in the future and lies inside the recovery window.",
        types: [T.cnpgCluster],
        only: { when: isRestoreCluster, what: `point-in-time restore clusters (label ${LABELS.restore})` },
        targets: ["recoveryWindow"],
        validate: (props, args, report) => {
            const t = targetsOf(args);
            const spec = props.spec ?? {};
            const recovery = spec.bootstrap?.recovery;
            if (recovery === undefined) {
                report(`${describe(args)}: a restore cluster without spec.bootstrap.recovery restores nothing`, fixedIn(RESTORE_FILE));
            }
            if ((spec.plugins ?? []).some((p: any) => p.name === BARMAN_CLOUD_PLUGIN && p.isWALArchiver === true) || spec.backup !== undefined || spec.replica !== undefined) {
                report(
                    `${describe(args)}: a restore cluster archives WAL or joins the replication topology (spec.plugins isWALArchiver / spec.backup / spec.replica); ` +
                        "it would write a second history into an archive",
                    fixedIn(RESTORE_FILE),
                );
            }
            const goal = recovery?.recoveryTarget ?? {};
            if (goal.targetTime !== undefined) {
                const why = recoveryTimeProblem(String(goal.targetTime), nowMs(), t.seconds("recoveryWindow"), `(target recoveryWindow ${t.text("recoveryWindow")})`);
                if (why) {
                    report(`${describe(args)}: spec.bootstrap.recovery.recoveryTarget.targetTime ${why}`, setting("restore"));
                }
            }
            if (goal.targetLSN !== undefined && !LSN.test(String(goal.targetLSN))) {
                report(`${describe(args)}: spec.bootstrap.recovery.recoveryTarget.targetLSN ${JSON.stringify(goal.targetLSN)} is not an LSN like 0/16B3748`, setting("restore"));
            }
            if (goal.targetName !== undefined && !goal.backupID) {
                report(
                    `${describe(args)}: recoveryTarget.targetName needs backupID (CloudNativePG picks the base backup only for time and LSN targets)`,
                    setting("restore"),
                );
            }
        },
    });
}

export const restoreTarget = restoreTargetPolicy();

export const restorePolicies = [restoreTarget];
