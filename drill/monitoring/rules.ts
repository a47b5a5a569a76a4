// The stack's alert rules as the drill's Prometheus evaluates them, and what they read.
//
// Time scale: the drill runs production time 1:timeScale (drill/topology.ts divides archive_timeout
// and the upload allowance, drill/scenarios.ts the RPO targets). The rules are scaled the same way on
// what the program generates, not on text: every duration threshold the rules take from the config
// (the numeric `c.alerts.*Seconds`) is divided before alertRuleGroups() builds them, and each rule's
// `for:` is divided after. Names, labels, annotations and the shape of every expression stay the
// production ones (annotations are taken from the unscaled rules, so a firing alert reads as in
// production); test/monitoring/rules.test.ts proves each expression differs only in those numbers.
//
// Reading expressions: a real PromQL parser (Prometheus' own lezer grammar, the one its UI uses).

import { parser } from "@prometheus-io/lezer-promql";
import { AlertRule, alertRuleGroups, RuleGroup } from "../../components/monitoring/alertRules";
import { DrConfig } from "../../config";
import { formatDuration, parseDuration } from "../../model/duration";

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

/** The config with every alert threshold in seconds divided by `timeScale`. */
function scaledAlertConfig(c: DrConfig, timeScale: number): DrConfig {
    const alerts: Record<string, unknown> = { ...c.alerts };
    for (const [key, value] of Object.entries(alerts)) {
        if (key.endsWith("Seconds") && typeof value === "number") {
            alerts[key] = value / timeScale;
        } else if (value && typeof value === "object" && "thresholdSeconds" in value && "forSeconds" in value) {
            // An AlertTiming (model/rpo.ts): threshold and for: both scale.
            const t = value as { thresholdSeconds: number; forSeconds: number };
            alerts[key] = { thresholdSeconds: t.thresholdSeconds / timeScale, forSeconds: t.forSeconds / timeScale };
        }
    }
    return { ...c, alerts: alerts as DrConfig["alerts"] };
}

/** A Prometheus duration for `seconds`: whole units when exact ("4s", "50m"), else milliseconds. */
export function promDuration(seconds: number): string {
    const ms = Math.round(seconds * 1000);
    return ms % 1000 === 0 ? formatDuration(ms / 1000) : `${ms}ms`;
}

/** A `for:` raised to the floor because the scaled one was shorter than the drill can sample. */
export interface RaisedFor {
    alert: string;
    /** The rule's cluster label. */
    cluster: string;
    /** The production `for:` divided by the time scale, seconds. */
    scaledSeconds: number;
    /** What the drill's Prometheus uses instead, seconds. */
    usedSeconds: number;
}

function scaledFor(rule: AlertRule, timeScale: number, minForSeconds: number, raised: RaisedFor[]): string {
    const seconds = parseDuration(rule.for);
    if (seconds === undefined) {
        throw new Error(`alert ${rule.alert}: cannot scale its for: "${rule.for}" (expected a duration like 2m)`);
    }
    // Unchanged durations keep their production text ("0m" stays "0m"): a for: of 0 fires on the
    // first true evaluation in production too, so there is nothing to raise.
    if (seconds === 0 || timeScale === 1) {
        return rule.for;
    }
    if (seconds / timeScale < minForSeconds) {
        raised.push({ alert: rule.alert, cluster: rule.labels.cluster, scaledSeconds: seconds / timeScale, usedSeconds: minForSeconds });
        return promDuration(minForSeconds);
    }
    return promDuration(seconds / timeScale);
}

/**
 * The stack's rule groups with thresholds and `for:` divided by `timeScale` (1 = production).
 *
 * `minForSeconds`: a floor for the scaled `for:` (one for all rules, or per alert). What the drill does in real time is not scaled:
 * a barman-cloud-wal-archive run takes seconds (a Python start and the upload), and Prometheus sees
 * a condition only at its scrape and evaluation ticks. A healthy upload after an archive_timeout switch
 * makes DrWalArchiveStale's condition true for that long (the archive age then exceeds the threshold,
 * and a segment is ready); with a `for:` shorter than that transient plus one scrape and one
 * evaluation, a healthy cluster would page. `raised` lists the rules the floor changed, for the report.
 */
export function scaledAlertRuleGroups(
    config: DrConfig,
    timeScale: number,
    minForSeconds: number | ((alert: string) => number) = 0,
): { groups: RuleGroup[]; raised: RaisedFor[] } {
    const floor = typeof minForSeconds === "number" ? () => minForSeconds : minForSeconds;
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) {
        throw new Error(`the drill's time scale must be a positive number, got ${timeScale}`);
    }
    const production = alertRuleGroups(config).groups;
    const raised: RaisedFor[] = [];
    const scaled = alertRuleGroups(scaledAlertConfig(config, timeScale)).groups;
    return {
        groups: scaled.map((group, g) => ({
            ...group,
            rules: group.rules.map((rule, r) => {
                const original = production[g]?.rules[r];
                if (!original || original.alert !== rule.alert || group.name !== production[g].name) {
                    throw new Error(`scaling changed the rule set at ${group.name}[${r}] (${rule.alert}): thresholds must not decide which rules exist`);
                }
                return { ...rule, for: scaledFor(original, timeScale, floor(original.alert), raised), annotations: original.annotations };
            }),
        })),
        raised,
    };
}

/** Parses a PromQL expression; throws on a syntax error (lezer marks it with an error node). */
export function parsePromql(expr: string): SyntaxNode {
    const tree = parser.parse(expr);
    tree.iterate({
        enter(node) {
            if (node.type.isError) {
                throw new Error(`PromQL syntax error at offset ${node.from} of: ${expr}`);
            }
        },
    });
    return tree.topNode;
}

function collect(expr: string, wanted: (node: SyntaxNode) => string | undefined): string[] {
    const out: string[] = [];
    const walk = (node: SyntaxNode): void => {
        const value = wanted(node);
        if (value !== undefined) {
            out.push(value);
        }
        for (let child = node.firstChild; child; child = child.nextSibling) {
            walk(child);
        }
    };
    walk(parsePromql(expr));
    return out;
}

/** The metric names an expression reads (its vector selectors, inside range selectors and absent() too). */
export function metricNamesIn(expr: string): string[] {
    const names = collect(expr, (node) => {
        if (node.name !== "VectorSelector") {
            return undefined;
        }
        const identifier = node.getChild("Identifier");
        if (!identifier) {
            throw new Error(`a selector without a metric name ({__name__=...}) cannot be checked: ${expr.slice(node.from, node.to)}`);
        }
        return expr.slice(identifier.from, identifier.to);
    });
    return [...new Set(names)].sort();
}

/** The number literals of an expression, in order (thresholds and comparisons with 0). */
export function numberLiteralsIn(expr: string): number[] {
    return collect(expr, (node) => (node.name === "NumberDurationLiteral" || node.name === "NumberLiteral" ? expr.slice(node.from, node.to) : undefined)).map(Number);
}

/** Every alert of the groups with the metric names it reads. */
export function alertMetrics(groups: RuleGroup[]): { alert: string; metrics: string[] }[] {
    return groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, metrics: metricNamesIn(r.expr) })));
}
