// The DR drill at small scale, for real: every scenario passes on the shipped stack and the report
// says so, and nothing the drill starts outlives it (not even the archive command a SIGKILLed primary
// was running). Sabotaged setups are in sabotage.test.ts. The suite runs its files one at a time
// (tools/testAll.ts says why: a second file's load pushed a log-shipping scenario past its scaled bound).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { toMarkdown, writeReport } from "../../drill/report";
import { runDrill, SCENARIO_NAMES } from "../../drill/run";
import { DrillReport } from "../../drill/types";
import { assertNothingLeftAfterEach, SMALL } from "./support";

describe("the DR drill (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(600_000);

    assertNothingLeftAfterEach();

    describe("every scenario at small scale on the shipped primary stack", () => {
        // One drill run per scenario, each its own test: a slow or stuck scenario is named by its own
        // test and timeout, rather than by one before-all hook covering them all.
        const reports: DrillReport[] = [];
        before(() => {
            reports.length = 0;
        });

        for (const name of SCENARIO_NAMES) {
            it(`${name} passes`, async function () {
                this.timeout(300_000);
                const one = await runDrill({ ...SMALL, scenarios: [name] });
                reports.push(one);
                const result = one.scenarios.find((s) => s.name === name);
                assert.ok(result, `scenario ${name} did not run`);
                assert.equal(result.status, "PASS", `${name}: ${result.summary}\n${JSON.stringify(result.checks)}`);
                assert.ok(result.steps.length > 0);
                assert.ok(result.checks.every((c) => c.ok));
                assert.equal(one.status, "PASS");
            });
        }

        /** The runs as one report, as `npm run drill` writes it; throws unless every scenario ran. */
        function combined(): DrillReport {
            assert.deepEqual(reports.map((r) => r.scenarios[0]?.name), SCENARIO_NAMES, "every scenario ran, in order");
            return {
                ...reports[0],
                finishedAt: reports[reports.length - 1].finishedAt,
                status: reports.find((r) => r.status === "ERROR")?.status ?? reports.find((r) => r.status === "FAIL")?.status ?? "PASS",
                scenarios: reports.flatMap((r) => r.scenarios),
            };
        }

        it("measures what each scenario promises", () => {
            const report = combined();
            const by = (n: string) => report.scenarios.find((s) => s.name === n)!;
            assert.ok(by("region-loss").rpo!.acknowledgedCommits > 0);
            assert.ok(by("region-loss").rpo!.measuredSeconds <= by("region-loss").rpo!.target.seconds);
            assert.ok(by("region-loss").rto!.measuredSeconds > 0);
            assert.equal(by("planned-switchover").rpo!.lostCommits, 0);
            const shipping = by("region-loss-log-shipping").rpo!;
            assert.ok(shipping.predictedBoundSeconds! > 0 && shipping.measuredSeconds <= shipping.predictedBoundSeconds!);
            for (const n of ["accidental-deletion", "accidental-deletion-standby-region"]) {
                assert.ok(by(n).checks.some((c) => c.name === "every deleted row is back" && c.ok), n);
                assert.ok(by(n).checks.some((c) => c.name === "the declared recovery target is the time found" && c.ok), n);
            }
            assert.ok(by("storage-outage").checks.some((c) => c.name === "no WAL segment missing afterwards" && c.ok));
            const deployment = by("first-deployment").checks;
            assert.equal(deployment.filter((c) => c.ok && /declares nothing that would fail now$/.test(c.name)).length, 3);
            assert.equal(deployment.filter((c) => c.ok && /again declares the same resources$/.test(c.name)).length, 3);
            assert.equal(by("failback").rpo!.lostCommits, 0);
            assert.ok(by("failback").rpo!.acknowledgedCommits > 0);
            assert.ok(by("failback").checks.some((c) => c.name.startsWith("the engine replaces") && c.ok));
            // Alerts: every scenario watched them, nothing fired while healthy, and the faults fired theirs in time.
            for (const s of report.scenarios) {
                assert.ok(s.alerts, `${s.name} ran no alerting`);
                assert.deepEqual(s.alerts.firings.filter((f) => f.inHealthyPhase).map((f) => f.alert), [], s.name);
            }
            const met = (n: string, alert: string) => by(n).alerts!.expected.some((e) => e.alert === alert && e.met);
            assert.ok(met("storage-outage", "DrWalArchiveStale"), JSON.stringify(by("storage-outage").alerts));
            assert.ok(met("region-loss", "DrStandbyNotStreaming"), JSON.stringify(by("region-loss").alerts));
            assert.ok(met("region-loss-log-shipping", "DrStandbyNotStreaming"), JSON.stringify(by("region-loss-log-shipping").alerts));
        });

        it("writes the report as Markdown, JSON and an SVG timeline", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drill-report-"));
            try {
                const report = combined();
                const files = writeReport(report, dir);
                const json = JSON.parse(fs.readFileSync(files.json, "utf8")) as DrillReport;
                assert.deepEqual(json.scenarios.map((s) => s.name), SCENARIO_NAMES);
                const md = fs.readFileSync(files.markdown, "utf8");
                for (const s of report.scenarios) assert.ok(md.includes(s.title), s.title);
                assert.ok(fs.readFileSync(files.svg, "utf8").startsWith("<svg"));
                assert.equal(report.status, "PASS", toMarkdown(report));
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
