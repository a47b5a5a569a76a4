// The drill timeline (drill-timeline.svg): one panel per scenario with the commits per time bin,
// the lost ones in red next to the disaster and the recovery, so a reader sees where data was lost.
import { DrillReport, ScenarioResult, Status, TimelineEvent } from "../types";
import { formatSeconds, trimZeros } from "./format";

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
    alert: "#ef6c00",
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
        case "alert":
            return { stroke: COLOURS.alert, "stroke-width": 1, "stroke-dasharray": "2 2" };
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
