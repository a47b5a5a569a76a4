// Backup CronJobs: never two at once, a starting deadline, and a run time bounded below the
// schedule interval, so a hung job cannot silently stop the next backup.
import { JOB_LABEL_VALUES, LABELS } from "../model/contract";
import { minIntervalSeconds } from "../model/schedule";
import { T } from "./stack";
import { describe, fixedIn, formatDuration, resourcePolicy, setting } from "./targets";

const JOBS_FILE = "components/backups/jobs.ts";

export const backupCronJobSafety = resourcePolicy({
    name: "backup-cronjob-safety",
    description: "Backup CronJobs forbid concurrent runs and set a starting deadline and an active deadline shorter than the schedule interval.",
    types: [T.cronJob],
    only: { when: (props) => props.metadata?.labels?.[LABELS.partOf.key] === LABELS.partOf.value, what: "drstack backup CronJobs" },
    validate: (props, args, report) => {
        const labels = props.metadata?.labels ?? {};
        const spec = props.spec ?? {};
        if (spec.concurrencyPolicy !== "Forbid") {
            report(`${describe(args)}: spec.concurrencyPolicy is ${JSON.stringify(spec.concurrencyPolicy ?? "Allow")}; it must be "Forbid" (two backups at once compete and can overwrite each other)`, fixedIn(JOBS_FILE));
        }
        if (!(spec.startingDeadlineSeconds > 0)) {
            report(`${describe(args)}: spec.startingDeadlineSeconds is not set; a missed run must be skipped, not started late into the next one`, fixedIn(JOBS_FILE));
        }
        const deadline = spec.jobTemplate?.spec?.activeDeadlineSeconds;
        if (!(deadline > 0)) {
            report(`${describe(args)}: spec.jobTemplate.spec.activeDeadlineSeconds is not set; a hung job would block every later run`, fixedIn(JOBS_FILE));
        } else if (typeof spec.schedule === "string") {
            const interval = minIntervalSeconds(spec.schedule);
            if (deadline >= interval) {
                const schedule = labels[LABELS.job] === JOB_LABEL_VALUES.logicalBackup ? "backups.logicalBackupSchedule" : "backups.verificationSchedule";
                report(
                    `${describe(args)}: spec.jobTemplate.spec.activeDeadlineSeconds is ${formatDuration(deadline)}; the limit is below the schedule's ` +
                        `shortest interval ${formatDuration(interval)}`,
                    setting(schedule),
                );
            }
        }
    },
});

export const cronJobPolicies = [backupCronJobSafety];
