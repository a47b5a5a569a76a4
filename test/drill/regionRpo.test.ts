// Issue 11 item 7: the region-loss verdict is judged against the stack's declared drstack:rpo.region,
// not against a predicted bound. With streaming turned off in a copy of the stack config, the
// drill's standby receives WAL through the replicated archive only, so region loss FAILS against
// the region RPO (honestly: the emulated replication lag is the RTC bound, scaled like the rest).
import { strict as assert } from "assert";
import { runDrill } from "../../drill/run";
import { RTC_REPLICATION_BOUND_SECONDS } from "../../model/rpo";
import { ownedProcesses, describeProcesses } from "../../local/processes";

// The largest time scale at which archive_timeout (270 s -> 3 s) still runs above PostgreSQL's 1 s granularity.
const TIME_SCALE = 90;

describe("region loss is judged against drstack:rpo.region", function () {
    this.timeout(600_000);
    const lines: string[] = [];

    afterEach(() => {
        const left = ownedProcesses();
        assert.deepEqual(left, [], `processes left behind:\n${describeProcesses(left)}\n${lines.slice(-20).join("\n")}`);
    });

    it("FAILS against the region RPO with streaming turned off in a copy of the stack config", async () => {
        const report = await runDrill({
            stack: "primary",
            scenarios: ["region-loss"],
            rate: 20,
            durationSeconds: 20,
            replicationLagSeconds: RTC_REPLICATION_BOUND_SECONDS / TIME_SCALE,
            timeScale: TIME_SCALE,
            log: (l) => lines.push(l),
            overrides: { "drstack:streaming": undefined },
        });
        const [result] = report.scenarios;
        assert.equal(result.name, "region-loss");
        assert.equal(result.status, "FAIL", `${result.summary}\n${lines.slice(-30).join("\n")}`);
        assert.ok(result.rpo, "the scenario measured an RPO");
        assert.match(result.rpo.target.label, /drstack:rpo\.region/);
        assert.equal(result.rpo.limitSeconds, result.rpo.target.seconds, "judged against the target, not the predicted bound");
        assert.equal(result.rpo.met, false);
        assert.ok(result.rpo.lostCommits > 0, "acknowledged commits were lost");
        assert.ok(result.rpo.measuredSeconds > result.rpo.target.seconds, `lost ${result.rpo.measuredSeconds} s, target ${result.rpo.target.seconds} s`);
        assert.match(result.summary, /region RPO/);
        // The drill ran the topology the program declares: no streaming, the replication rules' objects crossed.
        assert.ok(report.emulations.some((e) => /does NOT stream/.test(e)), report.emulations.join("\n"));
        assert.ok(result.checks.some((c) => c.name === "WAL was replicated to the standby region" && c.ok), JSON.stringify(result.checks));
    });
});
