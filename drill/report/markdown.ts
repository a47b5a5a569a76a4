// The drill report for people: the run's settings, a summary table, then per scenario its
// measures against their targets (with the verdict the scenario reached), steps, checks and notes.
import { DrillReport, RpoResult, ScenarioResult } from "../types";
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
        lines.push("### Alerts", "");
        lines.push(
            ...(s.alerts.firings.length === 0
                ? ["No alert fired."]
                : s.alerts.firings.map(
                      (f) =>
                          `- ${f.inHealthyPhase ? "✘" : "•"} ${f.alert} fired at +${formatSeconds(f.firedAtMs / 1000)}` +
                          (f.afterFaultSeconds !== undefined ? `, ${formatSeconds(f.afterFaultSeconds)} after the fault` : "") +
                          (f.inHealthyPhase ? " (healthy phase)" : ""),
                  )),
            ...s.alerts.expected.map(
                (e) =>
                    `- ${e.met ? "✔" : "✘"} expected ${e.alert} within ${e.limitName} (${formatSeconds(e.withinSeconds)}): ` +
                    (e.detectedAfterSeconds === undefined ? "did not fire" : `detected after ${formatSeconds(e.detectedAfterSeconds)}`),
            ),
            "",
        );
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
    lines.push("", "## Summary", "", ...summaryTable(report), "");
    for (const s of report.scenarios) {
        lines.push(...scenarioSection(s));
    }
    return lines.join("\n").replace(/\n+$/, "") + "\n";
}
