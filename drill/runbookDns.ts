// The Route53 part of a declared runbook step: failover records, their health checks and the
// CloudWatch alarms those read, parsed from what the program declares (drill/runbook.ts). Only
// the shapes the stack uses are understood: failover routing (PRIMARY/SECONDARY), endpoint,
// CALCULATED and CLOUDWATCH_METRIC health checks; anything else is refused.
import { RESOURCE_TYPES } from "../model/contract";
import { ProgramRun } from "../tools/offline/program";
import { unwrapSecrets } from "../tools/policyCheck";

/** A Route53 failover record (aws:route53/Record with failoverRoutingPolicies). */
export interface DeclaredRecord {
    resource: string;
    zoneId: string;
    name: string;
    setIdentifier: string;
    failover: "PRIMARY" | "SECONDARY";
    /** What it answers with: the CNAME target or the alias target. */
    target: string;
    /** The health check resource (by name) deciding whether it answers. */
    healthCheck?: string;
}

/** A Route53 health check, by kind. */
export type DeclaredHealthCheck =
    | { resource: string; kind: "endpoint"; type: string; fqdn: string; port: number; path?: string; intervalSeconds: number; failureThreshold: number }
    | { resource: string; kind: "calculated"; children: string[]; childHealthThreshold: number }
    | { resource: string; kind: "alarm"; alarmName: string; alarmRegion: string; insufficientData: "Healthy" | "Unhealthy" | "LastKnownStatus" };

/** A CloudWatch metric alarm with an explicit name (what a CLOUDWATCH_METRIC health check names). */
export interface DeclaredAlarm {
    resource: string;
    name: string;
    region: string;
    namespace: string;
    metricName: string;
    /** How the alarm treats periods without data (CloudWatch default: missing). */
    treatMissingData: "breaching" | "notBreaching" | "ignore" | "missing";
    periodSeconds: number;
    evaluationPeriods: number;
}

export interface DeclaredDns {
    records: DeclaredRecord[];
    healthChecks: DeclaredHealthCheck[];
    alarms: DeclaredAlarm[];
}

const ENDPOINT_TYPES = new Set(["HTTP", "HTTPS", "TCP", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"]);

/** Parses the step's Route53 resources; `resourceOf` maps a provider id back to the declaring resource's name. */
export function parseDns(run: ProgramRun, stackRegion: string, resourceOf: (id: string) => string | undefined): DeclaredDns {
    const ref = (id: unknown, at: string): string => {
        const name = resourceOf(String(id));
        if (!name) throw new Error(`${at}: health check id ${JSON.stringify(id)} is not a health check this stack declares`);
        return name;
    };
    const healthChecks: DeclaredHealthCheck[] = run.ofType(RESOURCE_TYPES.route53HealthCheck).map((r) => {
        const o = unwrapSecrets(r.inputs) as Record<string, any>;
        const at = `HealthCheck ${r.name}`;
        if (o.invertHealthcheck === true || o.disabled === true) throw new Error(`${at}: inverted or disabled health checks are not emulated`);
        if (ENDPOINT_TYPES.has(o.type)) {
            return {
                resource: r.name,
                kind: "endpoint" as const,
                type: o.type,
                fqdn: String(o.fqdn ?? o.ipAddress),
                port: Number(o.port),
                path: o.resourcePath,
                intervalSeconds: Number(o.requestInterval ?? 30),
                failureThreshold: Number(o.failureThreshold ?? 3),
            };
        }
        if (o.type === "CALCULATED") {
            const children = (o.childHealthchecks ?? []).map((c: unknown) => ref(c, at));
            if (typeof o.childHealthThreshold !== "number") throw new Error(`${at}: CALCULATED without childHealthThreshold`);
            return { resource: r.name, kind: "calculated" as const, children, childHealthThreshold: o.childHealthThreshold };
        }
        if (o.type === "CLOUDWATCH_METRIC") {
            const insufficient = o.insufficientDataHealthStatus ?? "LastKnownStatus";
            if (!["Healthy", "Unhealthy", "LastKnownStatus"].includes(insufficient)) throw new Error(`${at}: insufficientDataHealthStatus ${insufficient} is not understood`);
            return { resource: r.name, kind: "alarm" as const, alarmName: String(o.cloudwatchAlarmName), alarmRegion: String(o.cloudwatchAlarmRegion), insufficientData: insufficient };
        }
        throw new Error(`${at}: type ${JSON.stringify(o.type)} is not emulated (endpoint types, CALCULATED, CLOUDWATCH_METRIC)`);
    });
    const records: DeclaredRecord[] = run.ofType(RESOURCE_TYPES.route53Record).map((r) => {
        const o = unwrapSecrets(r.inputs) as Record<string, any>;
        const at = `Record ${r.name}`;
        const policies = ["weightedRoutingPolicies", "latencyRoutingPolicies", "geolocationRoutingPolicies", "geoproximityRoutingPolicy", "cidrRoutingPolicy", "multivalueAnswerRoutingPolicy"];
        const other = policies.filter((p) => o[p] !== undefined && !(Array.isArray(o[p]) && o[p].length === 0));
        if (other.length > 0) throw new Error(`${at}: ${other.join(", ")} is not emulated; the drill emulates failover routing only`);
        const failover = (o.failoverRoutingPolicies ?? []) as { type: string }[];
        if (failover.length !== 1 || (failover[0].type !== "PRIMARY" && failover[0].type !== "SECONDARY")) {
            throw new Error(`${at}: expected one failover routing policy PRIMARY or SECONDARY, got ${JSON.stringify(failover)}`);
        }
        const target = o.aliases?.[0]?.name ?? o.records?.[0];
        if (typeof target !== "string") throw new Error(`${at}: neither records nor an alias target declared`);
        return {
            resource: r.name,
            zoneId: String(o.zoneId),
            name: String(o.name),
            setIdentifier: String(o.setIdentifier),
            failover: failover[0].type as "PRIMARY" | "SECONDARY",
            target,
            healthCheck: o.healthCheckId === undefined ? undefined : ref(o.healthCheckId, at),
        };
    });
    const alarms: DeclaredAlarm[] = run
        .ofType(RESOURCE_TYPES.metricAlarm)
        .filter((r) => typeof r.inputs.name === "string")
        .map((r) => {
            const o = unwrapSecrets(r.inputs) as Record<string, any>;
            const tmd = o.treatMissingData ?? "missing";
            if (!["breaching", "notBreaching", "ignore", "missing"].includes(tmd)) throw new Error(`MetricAlarm ${r.name}: treatMissingData ${tmd} is not understood`);
            return {
                resource: r.name,
                name: o.name,
                region: String(o.region ?? stackRegion),
                namespace: String(o.namespace),
                metricName: String(o.metricName),
                treatMissingData: tmd,
                periodSeconds: Number(o.period),
                evaluationPeriods: Number(o.evaluationPeriods),
            };
        });
    return { records, healthChecks, alarms };
}
