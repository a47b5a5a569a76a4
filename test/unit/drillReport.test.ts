// The drill report renderers: Markdown tables a reader can trust, an SVG timeline that shows
// the lost commits in red next to the disaster, JSON that round-trips, and the files on disk.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatSeconds, toJson, toMarkdown, toSvg, writeReport } from "../../drill/report";
import { DrillReport, ScenarioResult } from "../../drill/types";

/** Acknowledgement times every `everyMs` in [fromMs, toMs). */
function ticks(fromMs: number, toMs: number, everyMs: number): number[] {
    const out: number[] = [];
    for (let t = fromMs; t < toMs; t += everyMs) {
        out.push(t);
    }
    return out;
}

function switchover(): ScenarioResult {
    const commitsMs = [...ticks(0, 5000, 20), ...ticks(8000, 10000, 20)];
    return {
        name: "switchover",
        title: "Planned switchover",
        status: "PASS",
        summary: "Standby promoted with no acknowledged commit lost.",
        startedAt: "2024-05-01T10:00:00.000Z",
        durationMs: 10000,
        rpo: {
            lostCommits: 0,
            acknowledgedCommits: commitsMs.length,
            measuredSeconds: 0,
            target: { label: "0s (switchover)", seconds: 0 },
            judgedAgainst: "zero: a switchover waits for the standby to replay everything",
            met: true,
        },
        rto: { measuredSeconds: 1.8, target: { label: "1m (drstack:rto.switchover)", seconds: 2 }, met: true },
        steps: [
            { name: "fence primary", startMs: 5000, endMs: 5200 },
            { name: "wait for replay | catch up", startMs: 5200, endMs: 6100 },
            { name: "promote standby", startMs: 6100, endMs: 7900 },
        ],
        checks: [
            { name: "no commit lost", ok: true, detail: `${commitsMs.length} of ${commitsMs.length} present` },
            { name: "old primary fenced", ok: true, detail: "rejects writes" },
        ],
        timeline: {
            commitsMs,
            lostMs: [],
            events: [
                { atMs: 5000, label: "writes fenced", kind: "info" },
                { atMs: 7900, label: "standby accepts writes", kind: "recovered" },
            ],
        },
        notes: ["Switchover runs with the replication lag emulation turned off."],
    };
}

function regionLoss(): ScenarioResult {
    const commitsMs = ticks(0, 20000, 100);
    return {
        name: "region-loss",
        title: `Region loss <&> "archive" path`,
        status: "FAIL",
        summary: "3 acknowledged commits lost over 12.5 s, above the 10 s target.",
        startedAt: "2024-05-01T10:01:00.000Z",
        durationMs: 30000,
        rpo: {
            lostCommits: 3,
            acknowledgedCommits: commitsMs.length,
            measuredSeconds: 12.5,
            target: { label: "5m (drstack:rpo.region)", seconds: 10 },
            predictedBoundSeconds: 11.2,
            judgedAgainst: "the target: archive_timeout + upload + replication lag should fit inside it",
            met: false,
        },
        steps: [{ name: "restore from replicated archive", startMs: 21000, endMs: 29500 }],
        checks: [
            { name: "restored cluster starts", ok: true, detail: "accepted connections after 8.5 s" },
            { name: "all acknowledged commits present", ok: false, detail: "3 missing: ids 76, 121, 200" },
        ],
        timeline: {
            commitsMs,
            lostMs: [7500, 12000, 19900],
            events: [
                { atMs: 20000, label: "region us-east-1 lost", kind: "disaster" },
                { atMs: 21000, label: "restore <started>", kind: "info" },
            ],
        },
        notes: ["Cross-region replication is emulated by copying objects between two local buckets."],
    };
}

function fixture(): DrillReport {
    return {
        stack: "primary",
        startedAt: "2024-05-01T10:00:00.000Z",
        finishedAt: "2024-05-01T10:02:00.000Z",
        status: "FAIL",
        machine: { cpus: 8, cpuModel: "Test CPU 3000", memoryGiB: 16, os: "linux 6.1", node: "v20.11.0", postgres: "16.2" },
        settings: {
            rate: 50,
            durationSeconds: 30,
            replicationLagSeconds: 0.5,
            timeScale: 30,
            archiveTimeoutSeconds: 2,
            productionArchiveTimeout: "60s",
            walCompression: "zstd",
            walUploadAllowanceSeconds: 1,
        },
        emulations: ["S3 cross-region replication: a local copier with a fixed lag"],
        scenarios: [switchover(), regionLoss()],
    };
}

// --- Markdown helpers -------------------------------------------------------------------------

/** The section of one scenario, from its "## " heading to the next. */
function section(md: string, name: string): string {
    const lines = md.split("\n");
    const start = lines.findIndex((l) => l.startsWith("## ") && l.includes(`(\`${name}\`)`));
    assert.ok(start >= 0, `no section for ${name}`);
    const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
    return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** The first table after a line starting with `heading`, as rows of cells (header and separator dropped). */
function tableAfter(text: string, heading: string): string[][] {
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.startsWith(heading));
    assert.ok(at >= 0, `no ${heading}`);
    const first = lines.findIndex((l, i) => i > at && l.startsWith("|"));
    const rows: string[][] = [];
    for (let i = first + 2; i < lines.length && lines[i].startsWith("|"); i++) {
        const cells = lines[i].split(/(?<!\\)\|/).slice(1, -1);
        rows.push(cells.map((c) => c.trim().replace(/\\\|/g, "|")));
    }
    return rows;
}

// --- SVG helpers ------------------------------------------------------------------------------

/** Enough of an XML parser to catch what string-built SVG gets wrong: unbalanced tags, raw < and &. */
function assertWellFormed(xml: string): void {
    const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/g;
    const checkText = (text: string) => {
        assert.ok(!text.includes("<"), `stray < in ${JSON.stringify(text.slice(0, 80))}`);
        assert.ok(!text.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, "").includes("&"), `raw & in ${JSON.stringify(text.slice(0, 80))}`);
    };
    const stack: string[] = [];
    let roots = 0;
    let last = 0;
    for (const m of xml.matchAll(tag)) {
        checkText(xml.slice(last, m.index));
        for (const [, value] of m[3].matchAll(/="([^"]*)"/g)) {
            checkText(value);
        }
        const [, closing, name, , selfClosing] = m;
        if (stack.length === 0 && !closing) {
            roots += 1;
        }
        if (closing) {
            assert.equal(stack.pop(), name, `mismatched </${name}>`);
        } else if (!selfClosing) {
            stack.push(name);
        }
        last = m.index! + m[0].length;
    }
    checkText(xml.slice(last));
    assert.deepEqual(stack, [], "unclosed elements");
    assert.equal(roots, 1, "exactly one root element");
}

interface Element {
    name: string;
    attrs: Record<string, string>;
    text: string;
}

function elements(xml: string, name: string): Element[] {
    const re = new RegExp(`<${name}\\b([^>]*?)(?:/>|>([^<]*)</${name}>)`, "g");
    return [...xml.matchAll(re)].map((m) => ({
        name,
        attrs: Object.fromEntries([...m[1].matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
        text: m[2] ?? "",
    }));
}

/** The panel groups, by scenario name, in document order. */
function panels(svg: string): { name: string; body: string }[] {
    return svg
        .split(/(?=<g class="panel")/)
        .slice(1)
        .map((chunk) => ({ name: /data-scenario="([^"]*)"/.exec(chunk)![1], body: chunk.slice(0, chunk.indexOf("</g>")) }));
}

function hasClass(e: Element, cls: string): boolean {
    return (e.attrs.class ?? "").split(" ").includes(cls);
}

function isRed(colour: string): boolean {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
    assert.ok(m, `not a hex colour: ${colour}`);
    const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16));
    return r > 150 && g < 100 && b < 100;
}

function isGreen(colour: string): boolean {
    const [r, g, b] = /^#(..)(..)(..)$/.exec(colour)!.slice(1).map((h) => parseInt(h, 16));
    return g > r + 40 && g > b + 40;
}

function sumCounts(es: Element[]): number {
    return es.reduce((sum, e) => sum + Number(e.attrs["data-count"]), 0);
}

// --- Tests ------------------------------------------------------------------------------------

describe("drill report: formatSeconds", () => {
    it("gives precision that suits the size", () => {
        assert.equal(formatSeconds(0), "0 s");
        assert.equal(formatSeconds(0.012), "0.012 s");
        assert.equal(formatSeconds(1.8), "1.8 s");
        assert.equal(formatSeconds(42), "42 s");
        assert.equal(formatSeconds(12.5), "12.5 s");
        assert.equal(formatSeconds(310.4), "310 s");
        assert.equal(formatSeconds(undefined), "n/a");
    });

    it("never prints a value that missed its target the same as the target", () => {
        assert.notEqual(formatSeconds(1.84), formatSeconds(1.8));
        assert.notEqual(formatSeconds(0.0125), formatSeconds(0.012));
    });
});

describe("drill report: Markdown", () => {
    const report = fixture();
    const md = toMarkdown(report);

    it("opens with the stack, the overall status, the machine and the settings", () => {
        const head = md.split("## Summary")[0];
        assert.match(head.split("\n")[0], /^# .*`primary`.*FAIL/);
        assert.ok(head.includes("Test CPU 3000"), "machine");
        assert.ok(head.includes("PostgreSQL 16.2"), "postgres version");
        assert.match(head, /time scale 1 drill s = 30 production s/);
        assert.match(head, /archive_timeout 2 s \(production 60s\)/);
        assert.ok(head.includes(report.emulations[0]), "emulations are stated");
    });

    it("follows the overall status", () => {
        const passed = fixture();
        passed.status = "PASS";
        assert.match(toMarkdown(passed).split("\n")[0], /PASS$/);
    });

    it("summarises one row per scenario with status, RPO and RTO measured against target", () => {
        const rows = tableAfter(md, "## Summary");
        assert.equal(rows.length, report.scenarios.length);
        report.scenarios.forEach((s, i) => {
            const [scenario, status, rpoMeasured, rpoTarget, rtoMeasured, rtoTarget] = rows[i];
            assert.ok(scenario.includes(s.title) && scenario.includes(s.name), scenario);
            assert.equal(status, s.status);
            assert.ok(rpoMeasured.startsWith(formatSeconds(s.rpo!.measuredSeconds)), rpoMeasured);
            assert.ok(rpoMeasured.includes(`${s.rpo!.lostCommits} lost`), rpoMeasured);
            assert.ok(rpoTarget.includes(s.rpo!.target.label) && rpoTarget.includes(formatSeconds(s.rpo!.target.seconds)), rpoTarget);
            if (s.rto) {
                assert.equal(rtoMeasured, formatSeconds(s.rto.measuredSeconds));
                assert.ok(rtoTarget.includes(s.rto.target.label) && rtoTarget.includes(formatSeconds(s.rto.target.seconds)), rtoTarget);
            } else {
                assert.equal(rtoMeasured, "n/a");
                assert.equal(rtoTarget, "n/a");
            }
        });
        assert.equal(rows[0][4], "1.8 s");
        assert.equal(rows[1][2], "12.5 s (3 lost)");
    });

    it("writes one section per scenario, in order, with its status and summary", () => {
        const headings = md.split("\n").filter((l) => l.startsWith("## ") && l !== "## Summary");
        assert.deepEqual(
            headings,
            report.scenarios.map((s) => `## ${s.title} (\`${s.name}\`): ${s.status}`),
        );
        for (const s of report.scenarios) {
            assert.ok(section(md, s.name).includes(s.summary));
        }
    });

    it("shows lost commits, span, predicted bound and basis in the RPO row of a failed scenario", () => {
        const s = report.scenarios[1];
        const [rpo] = tableAfter(section(md, s.name), "## ");
        assert.equal(rpo[0], "RPO (data loss)");
        assert.equal(rpo[1], "3 of 200 acknowledged commits lost, spanning 12.5 s");
        assert.ok(rpo[2].includes(s.rpo!.target.label) && rpo[2].includes("10 s"), rpo[2]);
        assert.equal(rpo[3], "FAIL", "12.5 s is over the 10 s target");
        assert.ok(rpo[4].includes("predicted bound 11.2 s"), rpo[4]);
        assert.ok(rpo[4].includes(s.rpo!.judgedAgainst), rpo[4]);
    });

    it("renders the verdict each measure reached in the scenario, and nothing of its own", () => {
        const [rpo, rto] = tableAfter(section(md, "switchover"), "## ");
        assert.equal(rpo[1], "0 of 350 acknowledged commits lost");
        assert.equal(rpo[3], "PASS");
        assert.ok(!rpo[4].includes("predicted bound"), "no bound when none was predicted");
        assert.deepEqual(rto.slice(0, 4), ["RTO", "1.8 s", "1m (drstack:rto.switchover) = 2 s drill", "PASS"]);

        const slow = fixture();
        slow.scenarios[0].rto!.measuredSeconds = 2.4;
        slow.scenarios[0].rto!.met = false;
        slow.scenarios[0].rpo!.lostCommits = 1;
        slow.scenarios[0].rpo!.met = false;
        const [slowRpo, slowRto] = tableAfter(section(toMarkdown(slow), "switchover"), "## ");
        assert.equal(slowRpo[3], "FAIL");
        assert.equal(slowRto[1], "2.4 s");
        assert.equal(slowRto[3], "FAIL");

        // The report does not judge: a verdict the figures would not support is rendered as given.
        const given = fixture();
        given.scenarios[1].rpo!.met = true;
        assert.equal(tableAfter(section(toMarkdown(given), "region-loss"), "## ")[0][3], "PASS");
    });

    it("renders n/a for a scenario without RTO (or RPO)", () => {
        const [, rto] = tableAfter(section(md, "region-loss"), "## ");
        assert.deepEqual(rto.slice(0, 4), ["RTO", "n/a", "n/a", "n/a"]);

        const bare = fixture();
        delete bare.scenarios[1].rpo;
        const out = toMarkdown(bare);
        const [rpo] = tableAfter(section(out, "region-loss"), "## ");
        assert.deepEqual(rpo.slice(0, 4), ["RPO (data loss)", "n/a", "n/a", "n/a"]);
        assert.deepEqual(tableAfter(out, "## Summary")[1].slice(2), ["n/a", "n/a", "n/a", "n/a"]);
    });

    it("times each step from the scenario start", () => {
        const s = report.scenarios[0];
        const rows = tableAfter(section(md, s.name), "### Steps");
        assert.deepEqual(
            rows,
            s.steps.map((step) => [step.name, `+${formatSeconds(step.startMs / 1000)}`, formatSeconds((step.endMs - step.startMs) / 1000)]),
        );
        assert.deepEqual(rows[2], ["promote standby", "+6.1 s", "1.8 s"]);
        assert.equal(rows[1][0], "wait for replay | catch up", "a pipe in a name does not split the cell");
    });

    it("marks each check passed or failed with its detail", () => {
        for (const s of report.scenarios) {
            const text = section(md, s.name);
            for (const c of s.checks) {
                assert.ok(text.includes(`- ${c.ok ? "✔" : "✘"} ${c.name}: ${c.detail}`), c.name);
            }
            assert.equal((text.match(/^- ✘ /gm) ?? []).length, s.checks.filter((c) => !c.ok).length);
            assert.equal((text.match(/^- ✔ /gm) ?? []).length, s.checks.filter((c) => c.ok).length);
        }
    });

    it("carries each scenario's notes", () => {
        for (const s of report.scenarios) {
            assert.ok(section(md, s.name).includes(`- ${s.notes[0]}`));
        }
    });
});

describe("drill report: SVG timeline", () => {
    const report = fixture();
    const svg = toSvg(report);

    it("is a single well-formed SVG document", () => {
        assert.ok(svg.startsWith("<svg"));
        assert.ok(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
        assertWellFormed(svg);
        const width = Number(/<svg[^>]*\bwidth="([\d.]+)"/.exec(svg)![1]);
        assert.ok(width >= 800 && width <= 1200, `width ${width}`);
    });

    it("has one panel per scenario, in order, headed by title and status", () => {
        const ps = panels(svg);
        assert.deepEqual(
            ps.map((p) => p.name),
            report.scenarios.map((s) => s.name),
        );
        ps.forEach((p, i) => {
            const texts = elements(p.body, "text").map((t) => t.text);
            assert.ok(texts.includes(report.scenarios[i].status), `status in ${p.name}`);
        });
        assert.ok(elements(panels(svg)[0].body, "text").some((t) => t.text.startsWith("Planned switchover")));
    });

    it("escapes the title and event labels", () => {
        assert.ok(svg.includes("Region loss &lt;&amp;&gt; &quot;archive&quot; path"));
        assert.ok(svg.includes("restore &lt;started&gt;"));
        assert.ok(!svg.includes("<&>") && !svg.includes("<started>"));
    });

    it("draws every acknowledged commit in the histogram and every lost commit in red", () => {
        panels(svg).forEach((p, i) => {
            const s = report.scenarios[i];
            const rects = elements(p.body, "rect");
            const acked = rects.filter((r) => hasClass(r, "ack"));
            const lost = rects.filter((r) => hasClass(r, "lost"));
            assert.equal(sumCounts(acked), s.timeline.commitsMs.length, `${s.name}: acknowledged`);
            assert.equal(sumCounts(lost), s.timeline.lostMs.length, `${s.name}: lost`);
            assert.ok(acked.every((r) => !isRed(r.attrs.fill)), "acknowledged commits are not red");
            assert.ok(lost.every((r) => isRed(r.attrs.fill)), "lost commits are red");

            const marks = elements(p.body, "line").filter((l) => hasClass(l, "lost-mark"));
            assert.equal(marks.length, s.timeline.lostMs.length, `${s.name}: one mark per lost commit`);
            assert.ok(marks.every((m) => isRed(m.attrs.stroke)));
        });
    });

    it("places lost-commit marks in time order at their acknowledgement times", () => {
        const p = panels(svg)[1];
        const xs = elements(p.body, "line")
            .filter((l) => hasClass(l, "lost-mark"))
            .map((l) => Number(l.attrs.x1));
        const ticksX = elements(p.body, "text")
            .filter((t) => hasClass(t, "tick"))
            .map((t) => ({ sec: parseFloat(t.text), x: Number(t.attrs.x) }));
        // Map seconds to pixels with the chart's own axis, then check each mark sits where its commit was.
        const [a, b] = [ticksX[0], ticksX[ticksX.length - 1]];
        const toX = (ms: number) => a.x + ((ms / 1000 - a.sec) / (b.sec - a.sec)) * (b.x - a.x);
        report.scenarios[1].timeline.lostMs.forEach((ms, i) => assert.ok(Math.abs(xs[i] - toX(ms)) <= 1, `mark ${i} at ${xs[i]}, expected ${toX(ms)}`));
    });

    it("labels the x axis in seconds from 0 across the scenario", () => {
        panels(svg).forEach((p, i) => {
            const secs = elements(p.body, "text")
                .filter((t) => hasClass(t, "tick"))
                .map((t) => {
                    assert.match(t.text, /^\d+(\.\d+)? s$/);
                    return parseFloat(t.text);
                });
            assert.equal(secs[0], 0);
            assert.ok(secs.length >= 4, `${secs.length} ticks`);
            secs.slice(1).forEach((v, j) => assert.ok(v > secs[j], "increasing"));
            const span = report.scenarios[i].durationMs / 1000;
            assert.ok(secs[secs.length - 1] <= span && secs[secs.length - 1] > span / 2, `last tick ${secs[secs.length - 1]} of ${span}`);
        });
    });

    it("draws events as vertical lines with labels: disaster red dashed, recovered green", () => {
        const [pass, fail] = panels(svg).map((p) => elements(p.body, "line").filter((l) => hasClass(l, "event")));
        const disaster = fail.filter((l) => hasClass(l, "disaster"));
        assert.equal(disaster.length, 1);
        assert.ok(isRed(disaster[0].attrs.stroke) && disaster[0].attrs["stroke-dasharray"], "red dashed");
        assert.equal(disaster[0].attrs.x1, disaster[0].attrs.x2, "vertical");
        const recovered = pass.filter((l) => hasClass(l, "recovered"));
        assert.equal(recovered.length, 1);
        assert.ok(isGreen(recovered[0].attrs.stroke) && !recovered[0].attrs["stroke-dasharray"], "green solid");
        assert.equal(pass.length + fail.length, report.scenarios.reduce((n, s) => n + s.timeline.events.length, 0));

        const labels = panels(svg).flatMap((p) => elements(p.body, "text").filter((t) => hasClass(t, "event-label")).map((t) => t.text));
        assert.ok(labels.includes("region us-east-1 lost") && labels.includes("standby accepts writes"), labels.join(", "));
    });

    it("handles a scenario with no commits and no events", () => {
        const r = fixture();
        r.scenarios.push({
            ...switchover(),
            name: "empty",
            status: "ERROR",
            durationMs: 0,
            timeline: { commitsMs: [], lostMs: [], events: [] },
        });
        const out = toSvg(r);
        assertWellFormed(out);
        const empty = panels(out)[2];
        assert.equal(empty.name, "empty");
        assert.ok(empty.body.includes("no commits recorded"));
        assert.equal(elements(empty.body, "rect").filter((e) => hasClass(e, "ack") || hasClass(e, "lost")).length, 0);
        assert.ok(!/NaN|Infinity/.test(out), "no NaN or Infinity coordinates");
    });
});

describe("drill report: JSON", () => {
    it("round-trips to an equal report", () => {
        const report = fixture();
        assert.deepStrictEqual(JSON.parse(toJson(report)), report);
    });

    it("is pretty (2 spaces) and the same whatever order the keys were set in", () => {
        const report = fixture();
        const json = toJson(report);
        assert.match(json, /^\{\n {2}"[a-z]/);
        const reordered = JSON.parse(JSON.stringify(report), function (_key, value) {
            return value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value;
        });
        assert.equal(toJson(reordered), json);
    });
});

describe("drill report: writeReport", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "drill-report-"));
    });
    after(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("creates the directory and writes the Markdown, JSON and SVG", () => {
        const report = fixture();
        const out = path.join(dir, "nested", "out");
        const paths = writeReport(report, out);
        assert.deepEqual(paths, {
            markdown: path.join(out, "drill-report.md"),
            json: path.join(out, "drill-report.json"),
            svg: path.join(out, "drill-timeline.svg"),
        });
        assert.equal(fs.readFileSync(paths.markdown, "utf8"), toMarkdown(report));
        assert.deepStrictEqual(JSON.parse(fs.readFileSync(paths.json, "utf8")), report);
        assert.equal(fs.readFileSync(paths.svg, "utf8"), toSvg(report));
    });
});
