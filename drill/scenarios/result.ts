// The one place a scenario's result is built and judged: from what the scenario measured (and
// the checks it recorded) to the verdict per measure, the status and the summary. The report
// renders these verdicts; nothing else judges.
import { AlertsResult, RpoResult, RtoResult, ScenarioResult, Status } from "../types";
import { Measurement, Recorder, RpoMeasurement, ScenarioDefinition } from "./scenario";

/** RPO is met when the loss window fits the limit; a zero limit means no acknowledged commit may be lost. */
export function rpoMet(rpo: Omit<RpoResult, "met">): boolean {
    const limit = rpo.limitSeconds ?? rpo.target.seconds;
    if (limit === 0) {
        return rpo.lostCommits === 0;
    }
    return rpo.lostCommits === 0 || rpo.measuredSeconds <= limit;
}

export function rtoMet(rto: Omit<RtoResult, "met">): boolean {
    return rto.measuredSeconds <= rto.target.seconds;
}

function rpoFailure(rpo: RpoMeasurement): string {
    const limit = rpo.limitSeconds ?? rpo.target.seconds;
    return limit === 0
        ? `lost ${rpo.lostCommits} acknowledged commits where ${rpo.limitName} allows none`
        : `lost ${rpo.lostCommits} acknowledged commits spanning ${rpo.measuredSeconds.toFixed(3)} s, above ${rpo.limitName} of ${limit.toFixed(1)} s`;
}

function judgeRpo(measured: RpoMeasurement): RpoResult {
    const { limitName: _, ...figures } = measured;
    return { ...figures, met: rpoMet(figures) };
}

/** An expected alert is met when it fired within its limit after the fault. */
function judgeAlerts(measured: NonNullable<Measurement["alerts"]>): AlertsResult {
    return {
        firings: measured.firings,
        expected: measured.expected.map((e) => ({ ...e, met: e.detectedAfterSeconds !== undefined && e.detectedAfterSeconds <= e.withinSeconds })),
    };
}

/** Failures from alerts: anything fired in a healthy phase, and an expected alert missing or late. */
function alertFailures(alerts: AlertsResult): string[] {
    return [
        ...alerts.firings.filter((f) => f.inHealthyPhase).map((f) => `${f.alert} fired during a healthy phase (at +${(f.firedAtMs / 1000).toFixed(1)} s)`),
        ...alerts.expected
            .filter((e) => !e.met)
            .map((e) =>
                e.detectedAfterSeconds === undefined
                    ? `${e.alert} did not fire after the fault (expected within ${e.limitName} of ${e.withinSeconds.toFixed(1)} s)`
                    : `${e.alert} fired ${e.detectedAfterSeconds.toFixed(1)} s after the fault, above ${e.limitName} of ${e.withinSeconds.toFixed(1)} s`,
            ),
    ];
}

/** The first line of an error and, when it quotes tool output, the tool's last words (the cause). */
export function errorSummary(error: Error): string {
    const lines = error.message.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const cause = lines.slice(1).filter((l) => /error|fatal|failed|cannot|could not|not found|denied/i.test(l)).slice(-2);
    return [lines[0], ...cause].join(" | ");
}

/**
 * The scenario's result. PASS only when every check passed and every measure is within its limit;
 * FAIL names each that is not; ERROR when the scenario could not complete (`outcome` is the error).
 */
export function buildResult(definition: ScenarioDefinition, rec: Recorder, outcome: Measurement | Error): ScenarioResult {
    const measured = outcome instanceof Error ? undefined : outcome;
    const rpo = measured?.rpo && judgeRpo(measured.rpo);
    const rto: RtoResult | undefined = measured?.rto ? { ...measured.rto, met: rtoMet(measured.rto) } : undefined;
    const alerts = measured?.alerts && judgeAlerts(measured.alerts);
    const failures = [
        ...rec.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
        ...(rpo && !rpo.met ? [rpoFailure(measured!.rpo!)] : []),
        ...(rto && !rto.met ? [`RTO ${rto.measuredSeconds.toFixed(1)} s above the target ${rto.target.label}`] : []),
        ...(alerts ? alertFailures(alerts) : []),
    ];
    let status: Status;
    let summary: string;
    if (outcome instanceof Error) {
        status = "ERROR";
        summary = `the scenario could not complete: ${errorSummary(outcome)}`;
    } else if (failures.length > 0) {
        status = "FAIL";
        summary = failures.join("; ");
    } else {
        status = "PASS";
        summary = outcome.passSummary;
    }
    return {
        name: definition.name,
        title: definition.title,
        status,
        summary,
        startedAt: rec.startedAt,
        durationMs: rec.now(),
        rpo,
        rto,
        alerts,
        steps: rec.steps,
        checks: rec.checks,
        timeline: { commitsMs: measured?.commitsMs ?? [], lostMs: measured?.lostMs ?? [], events: rec.events },
        notes: rec.notes,
    };
}
