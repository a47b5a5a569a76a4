// Every drill scenario at small scale, for real, split into groups so that the drill suite can run its files two
// at a time (package.json test:drill, tools/testAll.ts says why and what it measured). Each group is one test
// file; together the groups hold every scenario once (checked when this module loads). Each scenario's test
// runs it alone, checks it passed, then checks what that scenario promises to measure; each group ends by
// writing its runs as one report, as `npm run drill` writes it.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { toMarkdown, writeReport } from "../../drill/report";
import { runDrill, SCENARIO_NAMES } from "../../drill/run";
import { DrillReport, ScenarioResult } from "../../drill/types";
import { assertNothingLeftAfterEach, SMALL } from "./support";

/** The scenarios of each test file, in the order `npm run drill` runs them. */
export const SCENARIO_GROUPS = {
    failover: ["region-loss", "region-loss-log-shipping", "planned-switchover"],
    returns: ["old-primary-returns", "failback"],
    recovery: ["accidental-deletion", "accidental-deletion-standby-region", "backup-verification"],
    operations: ["storage-outage", "first-deployment"],
} as const;

export type ScenarioGroup = keyof typeof SCENARIO_GROUPS;

/** Throws unless the groups hold every scenario exactly once: a new scenario must be given a group. */
export function checkGroupsCoverScenarios(groups: Record<string, readonly string[]>, names: readonly string[]): void {
    const grouped = Object.values(groups).flat();
    const missing = names.filter((n) => !grouped.includes(n));
    const unknown = grouped.filter((n) => !names.includes(n));
    const twice = grouped.filter((n, i) => grouped.indexOf(n) !== i);
    if (missing.length + unknown.length + twice.length > 0) {
        throw new Error(
            `test/drill/scenarios.ts SCENARIO_GROUPS must hold every drill scenario once:` +
                (missing.length ? ` not in a group: ${missing.join(", ")};` : "") +
                (unknown.length ? ` not a scenario: ${unknown.join(", ")};` : "") +
                (twice.length ? ` in more than one place: ${twice.join(", ")};` : "") +
                ` the scenarios are ${names.join(", ")}`,
        );
    }
}

checkGroupsCoverScenarios(SCENARIO_GROUPS, SCENARIO_NAMES);

const check = (r: ScenarioResult, name: string) => r.checks.some((c) => c.name === name && c.ok);
const alertMet = (r: ScenarioResult, alert: string) => r.alerts!.expected.some((e) => e.alert === alert && e.met);

/** What each scenario promises to measure, beyond passing (checked on its own run; keys checked below). */
export const PROMISES: Record<string, (r: ScenarioResult) => void> = {
    "region-loss": (r) => {
        assert.ok(r.rpo!.acknowledgedCommits > 0);
        assert.ok(r.rpo!.measuredSeconds <= r.rpo!.target.seconds);
        assert.ok(r.rto!.measuredSeconds > 0);
        assert.ok(alertMet(r, "DrStandbyNotStreaming"), JSON.stringify(r.alerts));
    },
    "region-loss-log-shipping": (r) => {
        assert.ok(r.rpo!.predictedBoundSeconds! > 0 && r.rpo!.measuredSeconds <= r.rpo!.predictedBoundSeconds!);
        assert.ok(alertMet(r, "DrStandbyNotStreaming"), JSON.stringify(r.alerts));
    },
    "planned-switchover": (r) => assert.equal(r.rpo!.lostCommits, 0),
    "accidental-deletion": (r) => {
        assert.ok(check(r, "every deleted row is back"));
        assert.ok(check(r, "the declared recovery target is the time found"));
    },
    "accidental-deletion-standby-region": (r) => {
        assert.ok(check(r, "every deleted row is back"));
        assert.ok(check(r, "the declared recovery target is the time found"));
    },
    "storage-outage": (r) => {
        assert.ok(check(r, "no WAL segment missing afterwards"));
        assert.ok(alertMet(r, "DrWalArchiveStale"), JSON.stringify(r.alerts));
    },
    "first-deployment": (r) => {
        assert.equal(r.checks.filter((c) => c.ok && /declares nothing that would fail now$/.test(c.name)).length, 3);
        assert.equal(r.checks.filter((c) => c.ok && /again declares the same resources$/.test(c.name)).length, 3);
    },
    failback: (r) => {
        assert.equal(r.rpo!.lostCommits, 0);
        assert.ok(r.rpo!.acknowledgedCommits > 0);
        assert.ok(r.checks.some((c) => c.name.startsWith("the engine replaces") && c.ok));
    },
};

// A misspelt or renamed key would silently drop that scenario's promises.
const notScenarios = Object.keys(PROMISES).filter((n) => !SCENARIO_NAMES.includes(n));
if (notScenarios.length > 0) {
    throw new Error(`test/drill/scenarios.ts PROMISES: not a scenario: ${notScenarios.join(", ")}; the scenarios are ${SCENARIO_NAMES.join(", ")}`);
}

/** Defines one group's tests: each scenario alone, then the group's runs written as one report. */
export function describeScenarios(group: ScenarioGroup): void {
    const names: readonly string[] = SCENARIO_GROUPS[group];
    describe(`the DR drill (real PostgreSQL, barman-cloud, moto_server): ${group} scenarios at small scale on the shipped primary stack`, function () {
        this.timeout(600_000);
        assertNothingLeftAfterEach();

        // One drill run per scenario, each its own test: a slow or stuck scenario is named by its own
        // test and timeout, rather than by one before-all hook covering them all.
        const reports: DrillReport[] = [];
        before(() => {
            reports.length = 0;
        });

        for (const name of names) {
            it(`${name} passes and measures what it promises`, async function () {
                this.timeout(300_000);
                const one = await runDrill({ ...SMALL, scenarios: [name] });
                reports.push(one);
                const result = one.scenarios.find((s) => s.name === name);
                assert.ok(result, `scenario ${name} did not run`);
                assert.equal(result.status, "PASS", `${name}: ${result.summary}\n${JSON.stringify(result.checks)}`);
                assert.ok(result.steps.length > 0);
                assert.ok(result.checks.every((c) => c.ok));
                assert.equal(one.status, "PASS");
                // Alerts: every scenario watches them, and nothing fires while it is healthy.
                assert.ok(result.alerts, `${name} ran no alerting`);
                assert.deepEqual(result.alerts.firings.filter((f) => f.inHealthyPhase).map((f) => f.alert), [], name);
                PROMISES[name]?.(result);
            });
        }

        it("writes the group's runs as one report: Markdown, JSON and an SVG timeline", () => {
            assert.deepEqual(reports.map((r) => r.scenarios[0]?.name), names, "every scenario of the group ran, in order");
            const report: DrillReport = {
                ...reports[0],
                finishedAt: reports[reports.length - 1].finishedAt,
                status: reports.find((r) => r.status === "ERROR")?.status ?? reports.find((r) => r.status === "FAIL")?.status ?? "PASS",
                scenarios: reports.flatMap((r) => r.scenarios),
            };
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drill-report-"));
            try {
                const files = writeReport(report, dir);
                const json = JSON.parse(fs.readFileSync(files.json, "utf8")) as DrillReport;
                assert.deepEqual(json.scenarios.map((s) => s.name), names);
                const md = fs.readFileSync(files.markdown, "utf8");
                for (const s of report.scenarios) assert.ok(md.includes(s.title), s.title);
                assert.ok(fs.readFileSync(files.svg, "utf8").startsWith("<svg"));
                assert.equal(report.status, "PASS", toMarkdown(report));
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
}
