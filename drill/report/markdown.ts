// The drill report for people: the run's settings, a summary table, then per scenario its
// measures against their targets (with the verdict the scenario reached), steps, checks and notes.
import { AlertsResult, DrillReport, RpoResult, ScenarioResult } from "../types";
import { formatCount, formatRpoTarget, formatSeconds, formatSpan, formatTarget, verdict } from "./format";

/** Table cells are one line and may not contain an unescaped pipe. */
function cell(text: string): string {
    return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function row(cells: string[]): string {
    return `| ${cells.map(cell).join(" | ")} |`;
}

function table(header: string[], rows: string[][]): string[] {
    return [row(header), `|${header.map(() => "---").join("|")}|`, ...rows.map(row)];
}

function rpoMeasured(rpo: RpoResult): string {
    const lost = `${formatCount(rpo.lostCommits)} of ${formatCount(rpo.acknowledgedCommits)} acknowledged commits lost`;
    return rpo.lostCommits > 0 ? `${lost}, spanning ${formatSpan(rpo.measuredSeconds)}` : lost;
}

function rpoBasis(rpo: RpoResult): string {
    const parts: string[] = [];
    if (rpo.predictedBoundSeconds !== undefined) {
        parts.push(`predicted bound ${formatSeconds(rpo.predictedBoundSeconds)}`);
    }
    parts.push(`judged against: ${rpo.judgedAgainst}`);
    return parts.join("; ");
}

function summaryTable(report: DrillReport): string[] {
    return table(
        ["Scenario", "Status", "RPO measured", "RPO target", "RTO measured", "RTO target"],
        report.scenarios.map((s) => [
            `${s.title} (${s.name})`,
            s.status,
            s.rpo ? `${formatSeconds(s.rpo.measuredSeconds)} (${formatCount(s.rpo.lostCommits)} lost)` : "n/a",
            s.rpo ? formatRpoTarget(s.rpo) : "n/a",
            s.rto ? formatSeconds(s.rto.measuredSeconds) : "n/a",
            s.rto ? formatTarget(s.rto.target) : "n/a",
        ]),
    );
}

/** When an alert fired, relative to the scenario's phases. */
function firingPhase(f: AlertsResult["firings"][number]): string {
    if (f.inHealthyPhase) return "✘ healthy phase (false alert)";
    return f.afterFaultSeconds !== undefined ? "after the fault" : "before the healthy phase";
}

/** One row per alert that fired (name, cluster, severity, time to detect), then the expected ones judged. */
export function alertTable(alerts: AlertsResult): string[] {
    const fired =
        alerts.firings.length === 0
            ? ["No alert fired."]
            : table(
                  ["Alert fired", "Cluster", "Severity", "Fired at", "Time to detect", "Phase"],
                  alerts.firings.map((f) => [
                      f.alert,
                      f.labels.cluster ?? "?",
                      f.labels.severity ?? "?",
                      `+${formatSeconds(f.firedAtMs / 1000)}`,
                      f.afterFaultSeconds !== undefined ? formatSeconds(f.afterFaultSeconds) : "n/a",
                      firingPhase(f),
                  ]),
              );
    const expected =
        alerts.expected.length === 0
            ? ["No alert is expected from this scenario's fault (see the notes for why)."]
            : table(
                  ["Expected alert", "Bound", "Detected after", "Result"],
                  alerts.expected.map((e) => [
                      e.alert,
                      `${formatSeconds(e.withinSeconds)} (${e.limitName})`,
                      e.detectedAfterSeconds === undefined ? "did not fire" : formatSeconds(e.detectedAfterSeconds),
                      verdict(e.met),
                  ]),
              );
    return [...fired, "", ...expected];
}

/** Per scenario: what fired with its time to detect, the expected alerts met, and false alerts. */
function alertSummaryTable(report: DrillReport): string[] {
    const withAlerts = report.scenarios.filter((s) => s.alerts);
    if (withAlerts.length === 0) return [];
    return [
        "## Alerts",
        "",
        ...table(
            ["Scenario", "Fired (time to detect after the fault)", "Expected alerts met", "False alerts in the healthy phase"],
            withAlerts.map((s) => {
                const a = s.alerts!;
                const fired = a.firings.map((f) => `${f.alert}${f.labels.cluster ? ` (${f.labels.cluster})` : ""}${f.afterFaultSeconds !== undefined ? ` ${formatSeconds(f.afterFaultSeconds)}` : ""}`);
                const met = a.expected.filter((e) => e.met).length;
                const falseAlerts = a.firings.filter((f) => f.inHealthyPhase).map((f) => f.alert);
                return [
                    s.name,
                    fired.join(", ") || "none",
                    a.expected.length === 0 ? "none expected" : `${met} of ${a.expected.length}`,
                    falseAlerts.length === 0 ? "none" : falseAlerts.join(", "),
                ];
            }),
        ),
        "",
    ];
}

function scenarioSection(s: ScenarioResult): string[] {
    const lines: string[] = [];
    lines.push(`## ${s.title} (\`${s.name}\`): ${s.status}`, "");
    lines.push(s.summary, "");
    lines.push(`Started ${s.startedAt}, ran ${formatSpan(s.durationMs / 1000)}.`, "");

    lines.push(
        ...table(
            ["Measure", "Measured", "Target", "Result", "Basis"],
            [
                s.rpo
                    ? ["RPO (data loss)", rpoMeasured(s.rpo), formatRpoTarget(s.rpo), verdict(s.rpo.met), rpoBasis(s.rpo)]
                    : ["RPO (data loss)", "n/a", "n/a", "n/a", "not measured in this scenario"],
                s.rto
                    ? ["RTO", formatSpan(s.rto.measuredSeconds), formatTarget(s.rto.target), verdict(s.rto.met), "disaster to first accepted write"]
                    : ["RTO", "n/a", "n/a", "n/a", "not measured in this scenario"],
            ],
        ),
        "",
    );

    lines.push("### Steps", "");
    if (s.steps.length === 0) {
        lines.push("No steps recorded.", "");
    } else {
        lines.push(
            ...table(
                ["Step", "Start", "Duration"],
                s.steps.map((step) => [step.name, `+${formatSeconds(step.startMs / 1000)}`, formatSeconds((step.endMs - step.startMs) / 1000)]),
            ),
            "",
        );
    }

    if (s.alerts) {
        lines.push("### Alerts", "", ...alertTable(s.alerts), "");
    }

    lines.push("### Checks", "");
    if (s.checks.length === 0) {
        lines.push("No checks recorded.", "");
    } else {
        lines.push(...s.checks.map((c) => `- ${c.ok ? "✔" : "✘"} ${c.name}: ${c.detail}`), "");
    }

    if (s.notes.length > 0) {
        lines.push("### Notes", "", ...s.notes.map((n) => `- ${n}`), "");
    }
    return lines;
}

export function toMarkdown(report: DrillReport): string {
    const m = report.machine;
    const st = report.settings;
    const lines: string[] = [
        `# DR drill: stack \`${report.stack}\`: ${report.status}`,
        "",
        `- Ran ${report.startedAt} to ${report.finishedAt}`,
        `- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, PostgreSQL ${m.postgres}`,
        `- Settings: ${st.rate} commits/s for ${formatSpan(st.durationSeconds)}, replication lag ${formatSeconds(st.replicationLagSeconds)}, ` +
            `time scale 1 drill s = ${st.timeScale} production s, archive_timeout ${formatSeconds(st.archiveTimeoutSeconds)} ` +
            `(production ${st.productionArchiveTimeout}), WAL compression ${st.walCompression}, WAL upload allowance ${formatSeconds(st.walUploadAllowanceSeconds)}`,
    ];
    if (report.emulations.length > 0) {
        lines.push("- Emulations:", ...report.emulations.map((e) => `  - ${e}`));
    }
    lines.push("", "## Summary", "", ...summaryTable(report), "", ...alertSummaryTable(report));
    for (const s of report.scenarios) {
        lines.push(...scenarioSection(s));
    }
    return lines.join("\n").replace(/\n+$/, "") + "\n";
}
