// Renders a DrillReport three ways (Markdown for people, JSON for machines, an SVG timeline)
// and writes the files. The verdicts are the scenarios' own (drill/scenarios/result.ts): the
// report only renders them. Everything but writeReport is pure, so it can be tested without a drill.
import * as fs from "fs";
import * as path from "path";
import { DrillReport } from "../types";
import { toJson } from "./json";
import { toMarkdown } from "./markdown";
import { toSvg } from "./svg";

export { formatSeconds } from "./format";
export { toJson } from "./json";
export { toMarkdown } from "./markdown";
export { chooseBinMs, escapeXml, toSvg } from "./svg";

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
