// Backup CronJobs: never two at once, a starting deadline, and a run time bounded below the
// schedule interval, so a hung job cannot silently stop the next backup.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { minIntervalSeconds } from "../model/schedule";
import { CRONJOB_TYPE } from "./stack";
import { describe, formatDuration } from "./targets";

/** drstack labels every backup CronJob with this (components/backupJobs.ts). */
export const PART_OF = { key: "app.kubernetes.io/part-of", value: "drstack" };

export const backupCronJobSafety: ResourceValidationPolicy = {
    name: "backup-cronjob-safety",
    description: "Backup CronJobs forbid concurrent runs and set a starting deadline and an active deadline shorter than the schedule interval.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== CRONJOB_TYPE || args.props.metadata?.labels?.[PART_OF.key] !== PART_OF.value) {
            return args.notApplicable("Policy only applies to drstack backup CronJobs");
        }
        const spec = args.props.spec ?? {};
        if (spec.concurrencyPolicy !== "Forbid") {
            report(`${describe(args)}: spec.concurrencyPolicy is ${JSON.stringify(spec.concurrencyPolicy ?? "Allow")}; it must be "Forbid" (two backups at once compete and can overwrite each other)`);
        }
        if (!(spec.startingDeadlineSeconds > 0)) {
            report(`${describe(args)}: spec.startingDeadlineSeconds is not set; a missed run must be skipped, not started late into the next one`);
        }
        const deadline = spec.jobTemplate?.spec?.activeDeadlineSeconds;
        if (!(deadline > 0)) {
            report(`${describe(args)}: spec.jobTemplate.spec.activeDeadlineSeconds is not set; a hung job would block every later run`);
        } else if (typeof spec.schedule === "string") {
            const interval = minIntervalSeconds(spec.schedule);
            if (deadline >= interval) {
                report(
                    `${describe(args)}: spec.jobTemplate.spec.activeDeadlineSeconds is ${formatDuration(deadline)}; the limit is below the schedule's ` +
                        `shortest interval ${formatDuration(interval)}`,
                );
            }
        }
    },
};

export const cronJobPolicies = [backupCronJobSafety];
