// Renders a DrillReport three ways: Markdown for people, JSON for machines and an SVG
// timeline that shows where commits were lost relative to the disaster and the recovery.
// Everything but writeReport is pure so the rendering can be tested without a drill.

import * as fs from "fs";
import * as path from "path";
import { formatDuration } from "../model/duration";
import { DrillReport, RpoResult, RtoResult, ScenarioResult, Status, Target, TimelineEvent } from "./types";

// ---------------------------------------------------------------------------------------------
// Numbers

function trimZeros(text: string): string {
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/**
 * Seconds with precision that suits their size: "0.012 s", "1.8 s", "42 s", "310 s".
 * Two decimals below 10 s so a measured 1.84 s never prints the same as a 1.8 s target it missed.
 */
export function formatSeconds(seconds: number | undefined): string {
    if (seconds === undefined || !Number.isFinite(seconds)) {
        return "n/a";
    }
    const abs = Math.abs(seconds);
    let text: string;
    if (abs === 0) {
        text = "0";
    } else if (abs < 0.001) {
        text = seconds.toPrecision(1);
    } else if (abs < 1) {
        text = trimZeros(seconds.toFixed(3));
    } else if (abs < 10) {
        text = trimZeros(seconds.toFixed(2));
    } else if (abs < 100) {
        text = trimZeros(seconds.toFixed(1));
    } else {
        text = String(Math.round(seconds));
    }
    return `${text} s`;
}

/** Long spans also in the units the stack config uses, e.g. "310 s (5m10s)". */
function formatSpan(seconds: number): string {
    const rounded = Math.round(seconds);
    return rounded >= 60 ? `${formatSeconds(seconds)} (${formatDuration(rounded)})` : formatSeconds(seconds);
}

function formatCount(n: number): string {
    return n.toLocaleString("en-US");
}

function formatTarget(target: Target): string {
    return `${target.label} = ${formatSeconds(target.seconds)} drill`;
}

/** The RPO target, plus the limit actually judged against when it is not the target (log shipping). */
function formatRpoTarget(rpo: RpoResult): string {
    const base = formatTarget(rpo.target);
    return rpo.limitSeconds !== undefined && rpo.limitSeconds !== rpo.target.seconds ? `${base}; judged against ${formatSeconds(rpo.limitSeconds)} (${rpo.judgedAgainst.split(" (")[0].split(";")[0]})` : base;
}

// ---------------------------------------------------------------------------------------------
// Verdicts per row. The scenario status is the drill's own verdict; these only say how each
// measurement compares with its target, so a reader can see which one failed.

/** RPO is met when the loss window fits the target; a zero target means no acknowledged commit may be lost. */
export function rpoMet(rpo: RpoResult): boolean {
    const limit = rpo.limitSeconds ?? rpo.target.seconds;
    if (limit === 0) {
        return rpo.lostCommits === 0;
    }
    return rpo.lostCommits === 0 || rpo.measuredSeconds <= limit;
}

export function rtoMet(rto: RtoResult): boolean {
    return rto.measuredSeconds <= rto.target.seconds;
}

function verdict(ok: boolean): Status {
    return ok ? "PASS" : "FAIL";
}

// ---------------------------------------------------------------------------------------------
// Markdown

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
                    ? ["RPO (data loss)", rpoMeasured(s.rpo), formatRpoTarget(s.rpo), verdict(rpoMet(s.rpo)), rpoBasis(s.rpo)]
                    : ["RPO (data loss)", "n/a", "n/a", "n/a", "not measured in this scenario"],
                s.rto
                    ? ["RTO", formatSpan(s.rto.measuredSeconds), formatTarget(s.rto.target), verdict(rtoMet(s.rto)), "disaster to first accepted write"]
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

// ---------------------------------------------------------------------------------------------
// JSON

/** Keys sorted at every level so the same report always serialises to the same bytes, whoever built it. */
function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (value !== null && typeof value === "object") {
        const sorted: Record<string, unknown> = {};
        for (const key of Object.keys(value).sort()) {
            sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
        }
        return sorted;
    }
    return value;
}

export function toJson(report: DrillReport): string {
    return JSON.stringify(sortKeys(report), null, 2) + "\n";
}

// ---------------------------------------------------------------------------------------------
// SVG

const WIDTH = 1000;
const LEFT = 64;
const RIGHT = 24;
const PLOT_W = WIDTH - LEFT - RIGHT;
const LEGEND_H = 70;
const HEADER_H = 24;
const LABEL_ROWS = 3;
const LABEL_ROW_H = 13;
const PLOT_H = 110;
const RUG_H = 8;
const AXIS_H = 34;
const GAP = 16;
const PANEL_H = HEADER_H + 6 + LABEL_ROWS * LABEL_ROW_H + 4 + PLOT_H + AXIS_H + GAP;
/** Roughly how wide 10–11px sans-serif text is per character, for placing labels without a font. */
const CHAR_W = 6.2;

const COLOURS = {
    ack: "#90a4ae",
    lost: "#d32f2f",
    outage: "#fdecea",
    disaster: "#d32f2f",
    recovered: "#2e7d32",
    info: "#757575",
    grid: "#eeeeee",
    frame: "#cfd8dc",
    text: "#263238",
    muted: "#607d8b",
};

const STATUS_COLOURS: Record<Status, string> = { PASS: "#2e7d32", FAIL: "#c62828", ERROR: "#ef6c00" };

/** Bin sizes for the throughput histogram; the smallest that keeps bars a few pixels wide is used. */
const BIN_MS = [100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const MAX_BINS = 150;

export function escapeXml(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Coordinates with one decimal: enough for a screen, short enough to keep the file small. */
function n(value: number): string {
    return trimZeros(value.toFixed(1));
}

function attrs(a: Record<string, string | number>): string {
    return Object.entries(a)
        .map(([k, v]) => ` ${k}="${typeof v === "number" ? n(v) : escapeXml(v)}"`)
        .join("");
}

function el(name: string, a: Record<string, string | number>, text?: string): string {
    return text === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${escapeXml(text)}</${name}>`;
}

export function chooseBinMs(spanMs: number): number {
    return BIN_MS.find((b) => spanMs / b <= MAX_BINS) ?? BIN_MS[BIN_MS.length - 1];
}

/** A 1-2-5 tick step giving about `count` ticks over the span. */
function tickStep(spanSeconds: number, count = 10): number {
    const raw = spanSeconds / count;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 5, 10]) {
        if (raw <= f * magnitude) {
            return f * magnitude;
        }
    }
    return 10 * magnitude;
}

/** The span a panel shows: the scenario, plus anything recorded after it so nothing falls off the edge. */
function panelSpanMs(s: ScenarioResult): number {
    const ends = [
        s.durationMs,
        ...s.timeline.commitsMs,
        ...s.timeline.lostMs,
        ...s.timeline.events.map((e) => e.atMs),
        ...s.steps.map((step) => step.endMs),
    ].filter((v) => Number.isFinite(v));
    const end = Math.max(0, ...ends);
    return end > 0 ? end : 1000;
}

function histogram(times: number[], binMs: number, bins: number): number[] {
    const counts = new Array<number>(bins).fill(0);
    for (const t of times) {
        counts[Math.min(bins - 1, Math.max(0, Math.floor(t / binMs)))] += 1;
    }
    return counts;
}

function binLabel(binMs: number): string {
    return binMs < 1000 ? `${binMs} ms` : formatSeconds(binMs / 1000);
}

/** Greedy rows for event labels: each label goes in the first row where it does not overlap. */
function placeLabels(events: TimelineEvent[], x: (ms: number) => number): { event: TimelineEvent; x: number; row: number; anchorEnd: boolean }[] {
    const rowEnds = new Array<number>(LABEL_ROWS).fill(-Infinity);
    return [...events]
        .sort((a, b) => a.atMs - b.atMs)
        .map((event) => {
            const ex = x(event.atMs);
            const width = event.label.length * CHAR_W;
            // Near the right edge the label is drawn leftwards so it stays on the canvas.
            const anchorEnd = ex + 3 + width > WIDTH - 4;
            const start = anchorEnd ? ex - 3 - width : ex;
            const end = anchorEnd ? ex : ex + 3 + width;
            let row = rowEnds.findIndex((e) => start > e + 4);
            if (row < 0) {
                row = LABEL_ROWS - 1;
            }
            rowEnds[row] = Math.max(rowEnds[row], end);
            return { event, x: ex, row, anchorEnd };
        });
}

function eventStroke(kind: TimelineEvent["kind"]): Record<string, string | number> {
    switch (kind) {
        case "disaster":
            return { stroke: COLOURS.disaster, "stroke-width": 1.5, "stroke-dasharray": "5 3" };
        case "recovered":
            return { stroke: COLOURS.recovered, "stroke-width": 1.5 };
        case "info":
            return { stroke: COLOURS.info, "stroke-width": 1 };
    }
}

function panel(s: ScenarioResult, top: number): string[] {
    const out: string[] = [];
    const spanMs = panelSpanMs(s);
    const x = (ms: number) => LEFT + (Math.max(0, ms) / spanMs) * PLOT_W;
    const labelTop = HEADER_H + 6;
    const plotTop = labelTop + LABEL_ROWS * LABEL_ROW_H + 4;
    const plotBottom = plotTop + PLOT_H;

    out.push(`<g${attrs({ class: "panel", "data-scenario": s.name, transform: `translate(0 ${top})` })}>`);

    // Header: status badge then title, so the title never has to be measured.
    out.push(el("rect", { x: LEFT, y: 3, width: 48, height: 18, rx: 3, fill: STATUS_COLOURS[s.status] }));
    out.push(el("text", { x: LEFT + 24, y: 16, "text-anchor": "middle", "font-size": 11, "font-weight": "bold", fill: "#ffffff" }, s.status));
    out.push(el("text", { x: LEFT + 58, y: 17, "font-size": 13, "font-weight": "bold", fill: COLOURS.text }, `${s.title} (${s.name})`));

    out.push(el("rect", { x: LEFT, y: plotTop, width: PLOT_W, height: PLOT_H, fill: "#ffffff", stroke: COLOURS.frame }));

    // X axis: grid lines and labels in seconds since scenario start.
    const step = tickStep(spanMs / 1000);
    const decimals = step < 1 ? Math.ceil(-Math.log10(step) - 1e-9) : 0;
    for (let i = 0; i * step <= spanMs / 1000 + 1e-9; i++) {
        const sec = i * step;
        const tx = x(sec * 1000);
        out.push(el("line", { x1: tx, y1: plotTop, x2: tx, y2: plotBottom, stroke: COLOURS.grid }));
        out.push(el("line", { x1: tx, y1: plotBottom, x2: tx, y2: plotBottom + 3, stroke: COLOURS.muted }));
        out.push(
            el("text", { class: "tick", x: tx, y: plotBottom + RUG_H + 12, "text-anchor": "middle", "font-size": 10, fill: COLOURS.muted }, `${trimZeros(sec.toFixed(decimals))} s`),
        );
    }
    out.push(
        el("text", { x: LEFT + PLOT_W, y: plotBottom + RUG_H + 25, "text-anchor": "end", "font-size": 10, fill: COLOURS.muted }, "seconds since scenario start"),
    );

    // Outage bands: from each disaster to the next recovery (or the end when it never recovered).
    const events = [...s.timeline.events].sort((a, b) => a.atMs - b.atMs);
    for (const d of events.filter((e) => e.kind === "disaster")) {
        const r = events.find((e) => e.kind === "recovered" && e.atMs >= d.atMs);
        const x1 = x(d.atMs);
        const x2 = r ? x(r.atMs) : LEFT + PLOT_W;
        out.push(el("rect", { class: "outage", x: x1, y: plotTop + 0.5, width: Math.max(1, x2 - x1), height: PLOT_H - 1, fill: COLOURS.outage }));
    }

    const { commitsMs, lostMs } = s.timeline;
    if (commitsMs.length === 0 && lostMs.length === 0) {
        out.push(
            el("text", { x: LEFT + PLOT_W / 2, y: plotTop + PLOT_H / 2 + 4, "text-anchor": "middle", "font-size": 12, "font-style": "italic", fill: COLOURS.muted }, "no commits recorded"),
        );
    } else {
        const binMs = chooseBinMs(spanMs);
        const bins = Math.ceil(spanMs / binMs);
        const acked = histogram(commitsMs, binMs, bins);
        const lost = histogram(lostMs, binMs, bins);
        const max = Math.max(1, ...acked, ...lost);
        const usable = PLOT_H - 6;
        const binW = (binMs / spanMs) * PLOT_W;
        // A hairline gap between bars once they are wide enough to afford it.
        const barW = binW > 3 ? binW - 1 : binW;
        const bar = (i: number, count: number, cls: string, fill: string, minH: number) => {
            const bx = LEFT + i * binW;
            const w = Math.max(0.5, Math.min(barW, LEFT + PLOT_W - bx));
            const h = Math.max(minH, (count / max) * usable);
            return el("rect", { class: cls, "data-count": count, x: bx, y: plotBottom - h, width: w, height: h, fill });
        };
        for (let i = 0; i < bins; i++) {
            if (acked[i] > 0) {
                out.push(bar(i, acked[i], "ack", COLOURS.ack, 0));
            }
        }
        // Drawn after the acknowledged bars so they sit on top; a handful among thousands
        // gets at least 2 px so it never vanishes.
        for (let i = 0; i < bins; i++) {
            if (lost[i] > 0) {
                out.push(bar(i, lost[i], "lost", COLOURS.lost, 2));
            }
        }

        // Y axis: the scale and what one bar counts.
        out.push(el("text", { x: LEFT - 6, y: plotTop + 10, "text-anchor": "end", "font-size": 10, fill: COLOURS.muted }, String(max)));
        out.push(el("text", { x: LEFT - 6, y: plotBottom, "text-anchor": "end", "font-size": 10, fill: COLOURS.muted }, "0"));
        const ly = plotTop + PLOT_H / 2;
        out.push(
            el("text", { x: LEFT - 30, y: ly, "text-anchor": "middle", "font-size": 10, fill: COLOURS.muted, transform: `rotate(-90 ${n(LEFT - 30)} ${n(ly)})` }, `commits / ${binLabel(binMs)}`),
        );

        // A rug under the axis, one mark per pixel holding lost commits, so each loss is visible on its own.
        const lostPixels = [...new Set(lostMs.map((t) => Math.round(x(t))))].sort((a, b) => a - b);
        for (const px of lostPixels) {
            out.push(el("line", { class: "lost-mark", x1: px, y1: plotBottom + 1, x2: px, y2: plotBottom + RUG_H - 1, stroke: COLOURS.lost, "stroke-width": 1.5 }));
        }
    }

    // Events: a line through the plot and a label above it.
    for (const p of placeLabels(events, x)) {
        const ly = labelTop + p.row * LABEL_ROW_H;
        const colour = eventStroke(p.event.kind).stroke;
        out.push(el("line", { class: `event ${p.event.kind}`, x1: p.x, y1: ly + 2, x2: p.x, y2: plotBottom, ...eventStroke(p.event.kind) }));
        out.push(
            el(
                "text",
                { class: "event-label", x: p.anchorEnd ? p.x - 3 : p.x + 3, y: ly + 10, "text-anchor": p.anchorEnd ? "end" : "start", "font-size": 10.5, fill: colour },
                p.event.label,
            ),
        );
    }

    out.push("</g>");
    return out;
}

function legend(report: DrillReport): string[] {
    const out: string[] = [];
    out.push(el("text", { x: LEFT, y: 22, "font-size": 16, "font-weight": "bold", fill: COLOURS.text }, `DR drill timeline: stack ${report.stack}: ${report.status}`));
    out.push(
        el(
            "text",
            { x: LEFT, y: 40, "font-size": 11, fill: COLOURS.muted },
            `${report.startedAt} · ${report.settings.rate} commits/s · time scale 1 drill s = ${report.settings.timeScale} production s`,
        ),
    );
    const y = 58;
    let lx = LEFT;
    const item = (swatch: string, label: string) => {
        out.push(swatch);
        out.push(el("text", { x: lx + 22, y: y + 4, "font-size": 11, fill: COLOURS.text }, label));
        lx += 22 + label.length * CHAR_W + 18;
    };
    item(el("rect", { x: lx, y: y - 6, width: 16, height: 10, fill: COLOURS.ack }), "acknowledged commits per bin");
    item(el("rect", { x: lx, y: y - 6, width: 16, height: 10, fill: COLOURS.lost }), "lost commits");
    item(el("rect", { x: lx, y: y - 6, width: 16, height: 10, fill: COLOURS.outage, stroke: COLOURS.frame }), "outage");
    item(el("line", { x1: lx, y1: y, x2: lx + 16, y2: y, ...eventStroke("disaster") }), "disaster");
    item(el("line", { x1: lx, y1: y, x2: lx + 16, y2: y, ...eventStroke("recovered") }), "recovered");
    item(el("line", { x1: lx, y1: y, x2: lx + 16, y2: y, ...eventStroke("info") }), "event");
    return out;
}

export function toSvg(report: DrillReport): string {
    const height = LEGEND_H + Math.max(1, report.scenarios.length) * PANEL_H;
    const out: string[] = [
        `<svg${attrs({ xmlns: "http://www.w3.org/2000/svg", width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${n(height)}`, "font-family": "Helvetica, Arial, sans-serif" })}>`,
        el("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#ffffff" }),
        ...legend(report),
    ];
    if (report.scenarios.length === 0) {
        out.push(el("text", { x: WIDTH / 2, y: LEGEND_H + PANEL_H / 2, "text-anchor": "middle", "font-size": 13, fill: COLOURS.muted }, "no scenarios ran"));
    }
    report.scenarios.forEach((s, i) => out.push(...panel(s, LEGEND_H + i * PANEL_H)));
    out.push("</svg>");
    return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Files

export function writeReport(report: DrillReport, outDir: string): { markdown: string; json: string; svg: string } {
    fs.mkdirSync(outDir, { recursive: true });
    const paths = {
        markdown: path.join(outDir, "drill-report.md"),
        json: path.join(outDir, "drill-report.json"),
        svg: path.join(outDir, "drill-timeline.svg"),
    };
    fs.writeFileSync(paths.markdown, toMarkdown(report));
    fs.writeFileSync(paths.json, toJson(report));
    fs.writeFileSync(paths.svg, toSvg(report));
    return paths;
}
