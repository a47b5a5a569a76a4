// Alerting that watches the RPO: archive-age and replication-lag thresholds within the RPO, and
// restore verification that actually runs.
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { maxIntervalSeconds } from "../model/schedule";
import { CRONJOB_TYPE, drRegions, ofType, PROMETHEUS_RULE_TYPE } from "./stack";
import { describe, formatDuration, targetsOf, targetsSchema } from "./targets";

/** The alerts whose thresholds bound detected data loss, the metric they compare, and the target. */
const GUARDED = [
    { alert: "DrWalArchiveStale", metric: "cnpg_pg_stat_archiver_seconds_since_last_archival", target: "rpoDataCorruption" as const },
    { alert: "DrReplicaLagAboveRpo", metric: "cnpg_pg_replication_lag", target: "rpoRegion" as const },
];

function threshold(expr: string, metric: string): number | undefined {
    const m = new RegExp(`${metric}\\{[^}]*\\}\\s*>\\s*([0-9.]+)`).exec(expr);
    return m ? Number(m[1]) : undefined;
}

function rulesOf(props: any): any[] {
    return (props.spec?.groups ?? []).flatMap((g: any) => g.rules ?? []);
}

export const alertThresholds: ResourceValidationPolicy = {
    name: "alert-thresholds-within-rpo",
    description: "The WAL archive age and replication lag alerts fire at thresholds no larger than the RPO.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("rpoDataCorruption", "rpoRegion"),
    validateResource: (args, report) => {
        if (args.type !== PROMETHEUS_RULE_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${PROMETHEUS_RULE_TYPE}'`);
        }
        const t = targetsOf(args);
        const rules = rulesOf(args.props);
        for (const g of GUARDED) {
            const rule = rules.find((r) => r.alert === g.alert);
            if (!rule) {
                continue;
            }
            const value = threshold(String(rule.expr), g.metric);
            if (value === undefined) {
                report(`${describe(args)}: alert ${g.alert} has no "${g.metric}{...} > <seconds>" threshold to check against target ${g.target}`);
            } else if (value > t.seconds(g.target)) {
                report(
                    `${describe(args)}: alert ${g.alert} fires above ${formatDuration(value)}; the limit is ${t.text(g.target)} (target ${g.target}): ` +
                        "data loss beyond the RPO would go unnoticed",
                );
            }
        }
    },
};

export const alertsPresent: StackValidationPolicy = {
    name: "rpo-alerts-present",
    description: "The stack alerts on WAL archive age, and a standby also on replication lag.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const rules = ofType(args.resources, PROMETHEUS_RULE_TYPE).flatMap((r) => rulesOf(r.props));
        for (const region of drRegions(args.resources)) {
            const needed = region.role === "standby" ? ["DrWalArchiveStale", "DrReplicaLagAboveRpo"] : ["DrWalArchiveStale"];
            for (const alert of needed) {
                if (!rules.some((r) => r.alert === alert)) {
                    report(`${describe(region.resource)}: no PrometheusRule defines ${alert}; a ${region.role} stack needs it to notice data loss beyond the RPO`, region.resource.urn);
                }
            }
        }
    },
};

export const verificationScheduled: StackValidationPolicy = {
    name: "restore-verification-scheduled",
    description: "A restore-verification CronJob exists and runs at least as often as the policy requires (weekly by default).",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("maxVerificationInterval"),
    validateStack: (args, report) => {
        const t = targetsOf(args);
        const jobs = ofType(args.resources, CRONJOB_TYPE).filter((j) => j.props.metadata?.labels?.["drstack.io/job"] === "restore-verification");
        if (jobs.length === 0) {
            report("the stack has no restore-verification CronJob (label drstack.io/job=restore-verification): backups are never test-restored");
        }
        for (const job of jobs) {
            const schedule = String(job.props.spec?.schedule ?? "");
            const gap = maxIntervalSeconds(schedule);
            if (gap > t.seconds("maxVerificationInterval")) {
                report(
                    `${describe(job)}: spec.schedule "${schedule}" leaves up to ${formatDuration(gap)} between verifications; the limit is ` +
                        `${t.text("maxVerificationInterval")} (target maxVerificationInterval)`,
                    job.urn,
                );
            }
            if (job.props.spec?.suspend === true) {
                report(`${describe(job)}: spec.suspend is true; no verification runs`, job.urn);
            }
        }
    },
};

export const alertPolicies = [alertThresholds, alertsPresent, verificationScheduled];
