// The drill's time-scaled alert rules keep everything of the production rules but their duration
// thresholds and `for:`; the PromQL reading finds what a rule reads; the AlertWatcher's bookkeeping.
import { strict as assert } from "assert";
import { LOGICAL_BACKUP_SIZE_CHANGE_RATIO } from "../../model/alertCatalog";
import { parser } from "@prometheus-io/lezer-promql";
import { alertRuleGroups } from "../../components/monitoring/alertRules";
import { parseConfig } from "../../config";
import { parseDuration } from "../../model/duration";
import { readStackConfig } from "../../config";
import { AlertWatcher } from "../../drill/monitoring/alertWatcher";
import { metricNamesIn, numberLiteralsIn, parsePromql, promDuration, scaledAlertRuleGroups } from "../../drill/monitoring/rules";
import { PrometheusAlert } from "../../local/prometheus";

/** The expression's leaf tokens, number literals blanked: equal for two expressions differing only in numbers. */
function shape(expr: string): string[] {
    const out: string[] = [];
    parser.parse(expr).iterate({
        enter(node) {
            if (!node.node.firstChild) {
                out.push(node.name === "NumberDurationLiteral" ? "#" : `${node.name}:${expr.slice(node.from, node.to)}`);
            }
        },
    });
    return out;
}

describe("drill alert rules scaled by the time scale", () => {
    for (const stack of ["primary", "dr"]) {
        const config = parseConfig(readStackConfig(stack), stack);
        const production = alertRuleGroups(config).groups;

        for (const timeScale of [30, 7]) {
            it(`${stack} 1:${timeScale}: same rules, labels and annotations; thresholds and for: divided, nothing else`, () => {
                const scaled = scaledAlertRuleGroups(config, timeScale).groups;
                assert.deepEqual(scaled.map((g) => g.name), production.map((g) => g.name));
                let scaledThresholds = 0;
                production.forEach((group, g) => {
                    assert.equal(scaled[g].rules.length, group.rules.length);
                    group.rules.forEach((rule, r) => {
                        const s = scaled[g].rules[r];
                        assert.equal(s.alert, rule.alert);
                        assert.deepEqual(s.labels, rule.labels);
                        assert.deepEqual(s.annotations, rule.annotations);
                        assert.ok(Math.abs(parseDuration(rule.for)! / timeScale - durationSeconds(s.for)) < 0.001, `${rule.alert} for: ${rule.for} -> ${s.for}`);
                        assert.deepEqual(shape(s.expr), shape(rule.expr), `${rule.alert}: the expression changed beyond its numbers`);
                        const before = numberLiteralsIn(rule.expr);
                        const after = numberLiteralsIn(s.expr);
                        before.forEach((n, i) => {
                            // A comparison with 0 is a condition and the size-change ratio is dimensionless, not
                            // durations; every other number is a threshold in seconds.
                            const expected = n === 0 || n === LOGICAL_BACKUP_SIZE_CHANGE_RATIO ? n : n / timeScale;
                            assert.ok(Math.abs(after[i] - expected) < 1e-9, `${rule.alert}: ${n} became ${after[i]}, expected ${expected}`);
                            scaledThresholds += n === 0 ? 0 : 1;
                        });
                    });
                });
                assert.ok(scaledThresholds >= 3, "the archive, backup and verification thresholds were scaled");
            });
        }

        it(`${stack}: time scale 1 is the production rules`, () => {
            assert.deepEqual(scaledAlertRuleGroups(config, 1).groups, production);
        });
    }

    it("rejects a time scale that is not a positive number", () => {
        const config = parseConfig(readStackConfig("primary"), "primary");
        assert.throws(() => scaledAlertRuleGroups(config, 0), /positive number/);
        assert.throws(() => scaledAlertRuleGroups(config, Number.NaN), /positive number/);
    });

    it("writes durations Prometheus reads, exact to the millisecond", () => {
        assert.equal(promDuration(4), "4s");
        assert.equal(promDuration(3000), "50m");
        assert.equal(promDuration(60 / 7), "8571ms");
        assert.equal(promDuration(0), "0s");
    });
});

/** Seconds of a Prometheus duration as promDuration writes it ("8571ms" or "1h2m"). */
function durationSeconds(text: string): number {
    const ms = /^(\d+)ms$/.exec(text);
    return ms ? Number(ms[1]) / 1000 : parseDuration(text)!;
}

describe("reading PromQL", () => {
    it("finds the metrics of selectors, absent(), range selectors and both sides of a join", () => {
        assert.deepEqual(
            metricNamesIn('absent(a_total{x="1"}) or rate(b_seconds[5m]) > on (pod) group_left c{y=~"z"} and time() - d > 3'),
            ["a_total", "b_seconds", "c", "d"],
        );
    });

    it("lists number literals in order", () => {
        assert.deepEqual(numberLiteralsIn("a > 300 and b == 0"), [300, 0]);
    });

    it("throws on a syntax error and on a selector without a metric name", () => {
        assert.throws(() => parsePromql("a >"), /PromQL syntax error/);
        assert.throws(() => metricNamesIn('{__name__="a"}'), /without a metric name/);
    });
});

describe("AlertWatcher", () => {
    const alert = (name: string, state: PrometheusAlert["state"], activeAt: string, pod = "p-1"): PrometheusAlert => ({
        labels: { alertname: name, pod },
        annotations: {},
        state,
        activeAt,
        value: "1",
    });

    it("records when each alert episode became active and was first seen firing", async () => {
        let now = 1000;
        let active: PrometheusAlert[] = [];
        const watcher = new AlertWatcher({ fetchAlerts: async () => active, now: () => now });
        active = [alert("A", "pending", "1970-01-01T00:00:01.500Z")];
        await watcher.poll();
        now = 4000;
        active = [alert("A", "firing", "1970-01-01T00:00:01.500Z"), alert("B", "pending", "1970-01-01T00:00:03.900Z")];
        await watcher.poll();
        now = 5000;
        await watcher.poll();
        assert.deepEqual(
            watcher.all().map((r) => [r.alert, r.activeAtMs, r.firingAtMs, r.lastSeenAtMs]),
            [["A", 1500, 4000, 5000], ["B", 3900, undefined, 5000]],
        );
        assert.equal(watcher.timeToDetect("A", 1000), 3);
        assert.equal(watcher.timeToDetect("B", 1000), undefined, "pending is not fired");
        assert.deepEqual(watcher.firedBetween(0, 3999), []);
        assert.deepEqual(watcher.firedBetween(4000).map((r) => r.alert), ["A"]);
    });

    it("keeps a second episode of the same alert apart, for time to detect after a later fault", async () => {
        let now = 1000;
        let active = [alert("A", "firing", "1970-01-01T00:00:00.500Z")];
        const watcher = new AlertWatcher({ fetchAlerts: async () => active, now: () => now });
        await watcher.poll();
        now = 2000;
        active = [];
        await watcher.poll();
        now = 9000;
        active = [alert("A", "firing", "1970-01-01T00:00:08Z")];
        await watcher.poll();
        assert.equal(watcher.all().length, 2);
        assert.equal(watcher.timeToDetect("A", 5000), 4);
    });

    it("counts failed polls and names what is active when a wait times out", async () => {
        let calls = 0;
        const watcher = new AlertWatcher({
            fetchAlerts: async () => {
                calls++;
                if (calls === 1) throw new Error("connection refused");
                return [alert("B", "pending", "1970-01-01T00:00:01Z")];
            },
            intervalMs: 10,
        });
        await assert.rejects(watcher.waitForFiring("A", 0, 50), /A did not fire within 50 ms; alerts seen: B \(pending\); last poll error: connection refused/);
        assert.equal(watcher.failedPolls, 1);
    });
});
