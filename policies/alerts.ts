// Alerting that watches the RPO: archive-age, archive-backlog and replication-lag alerts that
// report a breach within the RPO (threshold plus `for:`), someone to notify, and restore
// verification that actually runs. Which alerts are guarded, the metric each compares and
// the target it answers to come from the alert catalog (model/alertCatalog.ts).
import { guardedAlerts } from "../model/alertCatalog";
import { JOB_LABEL_VALUES, LABELS } from "../model/contract";
import { parseDuration } from "../model/duration";
import { maxIntervalSeconds } from "../model/schedule";
import { drRegions, ofType, T } from "./stack";
import { describe, fixedIn, formatDuration, resourcePolicy, setting, stackPolicy, target, targetsOf } from "./targets";

const GUARDED = guardedAlerts();

/** The number after the first `>` that follows the metric's selector (`m{...} > N`, `rate(m{...}[5m])) > N`). */
function threshold(expr: string, metric: string): number | undefined {
    const m = new RegExp(`${metric}\\{[^}]*\\}[^>]*?>\\s*([0-9.]+)`).exec(expr);
    return m ? Number(m[1]) : undefined;
}

function rulesOf(props: any): any[] {
    return (props.spec?.groups ?? []).flatMap((g: any) => g.rules ?? []);
}

export const alertThresholds = resourcePolicy({
    name: "alert-thresholds-within-rpo",
    description: "The WAL archive age, archive backlog and replication lag alerts fire within the RPO: threshold plus for: no larger than it.",
    types: [T.prometheusRule],
    targets: [...new Set(GUARDED.map((g) => g.target))],
    validate: (props, args, report) => {
        const t = targetsOf(args);
        const rules = rulesOf(props);
        for (const g of GUARDED) {
            const rule = rules.find((r) => r.alert === g.alert);
            if (!rule) {
                continue;
            }
            const value = threshold(String(rule.expr), g.metric);
            const waitFor = rule.for === undefined ? 0 : parseDuration(String(rule.for));
            if (value === undefined) {
                report(`${describe(args)}: alert ${g.alert} has no "${g.metric}{...} > <seconds>" threshold to check against target ${g.target}`, fixedIn("components/monitoring/alertRules.ts"));
            } else if (waitFor === undefined) {
                report(`${describe(args)}: alert ${g.alert} has for: "${rule.for}", not a duration like 1m`, fixedIn("components/monitoring/alertRules.ts"));
            } else if (value + waitFor > t.seconds(g.target)) {
                report(
                    `${describe(args)}: alert ${g.alert} fires only after ${formatDuration(value + waitFor)} ` +
                        `(threshold ${formatDuration(value)} + for: ${formatDuration(waitFor)}); the limit is ${t.text(g.target)} (target ${g.target}): ` +
                        "data loss beyond the RPO would go unnoticed that long",
                    target(g.target),
                );
            }
        }
    },
});

export const alertsPresent = stackPolicy({
    name: "rpo-alerts-present",
    description: "The stack alerts on WAL archive age, and a standby also on replication lag.",
    validate: (args, report) => {
        const rules = ofType(args.resources, T.prometheusRule).flatMap((r) => rulesOf(r.props));
        for (const region of drRegions(args.resources)) {
            for (const g of GUARDED.filter((a) => a.requiredOn.includes(region.role))) {
                if (!rules.some((r) => r.alert === g.alert)) {
                    report(
                        `${describe(region.resource)}: no PrometheusRule defines ${g.alert}; a ${region.role} stack needs it to notice data loss beyond the RPO`,
                        fixedIn("components/monitoring/alertRules.ts"),
                        region.resource.urn,
                    );
                }
            }
        }
    },
});

export const alertsNotifySomeone = stackPolicy({
    name: "alerts-notify-someone",
    description: "The alarm topics have at least one subscription, unless the stack confirms drstack:alerts.allowNoNotify.",
    validate: (args, report) => {
        const subscriptions = ofType(args.resources, T.snsTopicSubscription);
        for (const region of drRegions(args.resources)) {
            const optedOut = region.resource.props.config?.alerts?.allowNoNotify === true;
            if (subscriptions.length === 0 && !optedOut) {
                report(
                    `${describe(region.resource)}: the alarm topics have no subscription: a replication or failover alarm would page nobody`,
                    setting("alerts.notify"),
                    region.resource.urn,
                );
            }
        }
    },
});

export const verificationScheduled = stackPolicy({
    name: "restore-verification-scheduled",
    description: "A restore-verification CronJob exists and runs at least as often as the policy requires (weekly by default).",
    targets: ["maxVerificationInterval"],
    validate: (args, report) => {
        const t = targetsOf(args);
        const jobs = ofType(args.resources, T.cronJob).filter((j) => j.props.metadata?.labels?.[LABELS.job] === JOB_LABEL_VALUES.restoreVerification);
        if (jobs.length === 0) {
            report(
                `the stack has no restore-verification CronJob (label ${LABELS.job}=${JOB_LABEL_VALUES.restoreVerification}): backups are never test-restored`,
                fixedIn("components/backups/jobs.ts"),
            );
        }
        for (const job of jobs) {
            const schedule = String(job.props.spec?.schedule ?? "");
            const gap = maxIntervalSeconds(schedule);
            if (gap > t.seconds("maxVerificationInterval")) {
                report(
                    `${describe(job)}: spec.schedule "${schedule}" leaves up to ${formatDuration(gap)} between verifications; the limit is ` +
                        `${t.text("maxVerificationInterval")} (target maxVerificationInterval)`,
                    target("maxVerificationInterval"),
                    job.urn,
                );
            }
            if (job.props.spec?.suspend === true) {
                report(`${describe(job)}: spec.suspend is true; no verification runs`, setting("backups.verificationSchedule"), job.urn);
            }
        }
    },
});

export const alertPolicies = [alertThresholds, alertsPresent, alertsNotifySomeone, verificationScheduled];
