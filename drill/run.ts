// Runs the chosen scenarios against a stack's settings and assembles the report.
import { execFileSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { formatDuration } from "../model/duration";
import { parseConfig } from "../config";
import { readStackConfig } from "../config";
import { postgresBinDir } from "../local/tools";
import { runScenario, Sabotage, SCENARIOS } from "./scenarios";
import { Overrides, stackConfigWith } from "../tools/offline/program";
import { declaredTopology } from "./declared";
import { drillSettings } from "./topology";
import { DrillReport, ScenarioResult } from "./types";

export interface DrillOptions {
    stack: string;
    scenarios?: string[];
    rate: number;
    durationSeconds: number;
    replicationLagSeconds: number;
    timeScale: number;
    /** How long a scenario waits for WAL to reach the archive (default 2 minutes). */
    archiveWaitMs?: number;
    log: (line: string) => void;
    /** Tests only: deliberately broken setups. */
    sabotage?: Sabotage;
    /** Config overrides applied to a copy of both stacks' config (tests: e.g. streaming turned off). */
    overrides?: Overrides;
}

export const SCENARIO_NAMES = SCENARIOS.map((s) => s.name);

function postgresVersion(): string {
    try {
        return execFileSync(path.join(postgresBinDir(), "postgres"), ["--version"], { encoding: "utf8" }).trim();
    } catch {
        return "unknown";
    }
}

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
    const unknown = (options.scenarios ?? []).filter((s) => !SCENARIO_NAMES.includes(s));
    if (unknown.length > 0) {
        throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${SCENARIO_NAMES.join(", ")}`);
    }
    const config = parseConfig(options.overrides ? stackConfigWith(options.stack, options.overrides) : readStackConfig(options.stack), options.stack);
    options.log(`reading what the program declares for stack ${options.stack} and its peer (program under mocks)`);
    const declared = await declaredTopology(options.stack, options.overrides);
    const peer = declared.stacks.find((s) => s !== options.stack);
    const peerConfig = peer ? parseConfig(options.overrides ? stackConfigWith(peer, options.overrides) : readStackConfig(peer), peer) : undefined;
    const settings = { ...drillSettings(options.stack, config, options, declared), peerConfig };
    const startedAt = new Date().toISOString();
    options.log(
        `drill of stack ${options.stack}: archive_timeout ${settings.archiveTimeoutSeconds} s (declared ${declared.archiveTimeoutSeconds} s, time scale 1:${settings.timeScale}), ` +
            `${options.rate} commits/s, ${options.durationSeconds} s per scenario, replication lag ${options.replicationLagSeconds} s`,
    );
    const chosen = SCENARIOS.filter((s) => !options.scenarios?.length || options.scenarios.includes(s.name));
    const results: ScenarioResult[] = [];
    for (const scenario of chosen) {
        results.push(await runScenario(scenario, settings, options.sabotage));
    }
    const cpus = os.cpus();
    return {
        stack: options.stack,
        startedAt,
        finishedAt: new Date().toISOString(),
        status: results.some((r) => r.status === "ERROR") ? "ERROR" : results.some((r) => r.status === "FAIL") ? "FAIL" : "PASS",
        machine: {
            cpus: cpus.length,
            cpuModel: cpus[0]?.model ?? "unknown",
            memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
            os: `${os.type()} ${os.release()}`,
            node: process.version,
            postgres: postgresVersion(),
        },
        settings: {
            rate: options.rate,
            durationSeconds: options.durationSeconds,
            replicationLagSeconds: options.replicationLagSeconds,
            timeScale: options.timeScale,
            archiveTimeoutSeconds: settings.archiveTimeoutSeconds,
            productionArchiveTimeout: `${declared.archiveTimeoutSeconds}s`,
            walCompression: settings.walCompression,
            walUploadAllowanceSeconds: settings.uploadAllowanceSeconds,
        },
        emulations: [
            "S3 (both regions' buckets) is moto_server on loopback; the primary reaches its bucket through a TCP proxy that the drill cuts.",
            `S3 cross-region replication is EMULATED from the declared rules (${declared.replication.rules.map((r) => `${r.id}: ${r.enabled ? "enabled" : "disabled"}, prefix "${r.prefix}", deletes ${r.replicateDeletes ? "replicated" : "not replicated"}`).join("; ")}): a replicator copies each selected new object after ${options.replicationLagSeconds} s (real S3 RTC: 99.99 % within 15 minutes).`,
            `The topology is what the program declares for stacks ${declared.stacks.join(" and ")}: the standby ${declared.standbyStreams ? "streams from the primary" : "does NOT stream (no connectionParameters declared): WAL reaches it through the replicated archive only"}; archive_timeout ${declared.archiveTimeoutSeconds} s; WAL compression ${declared.walCompression ?? "none"}.`,
            "The CloudNativePG clusters are single PostgreSQL servers: the primary archives with barman-cloud-wal-archive (the tool the Barman Cloud plugin runs); the standby streams through a cuttable proxy (the inter-region link) when declared, and restores from the standby bucket with barman-cloud-wal-restore.",
            "Runbook steps (region-loss, planned-switchover, old-primary-returns) run the program under mocks with the step's config (drill/runbook.ts) and apply what it declares: promotion/demotion of the declared Cluster, the fence marker into moto. Route53 failover routing is EMULATED from the declared records, health checks and alarm (endpoint health probed at query time); the Kubernetes API the fence check patches is a stand-in, and a fence patch stops the postmaster as CloudNativePG does.",
            `Archive timing is scaled by 1:${options.timeScale}: archive_timeout ${formatDuration(declared.archiveTimeoutSeconds)} runs as ${settings.archiveTimeoutSeconds} s, and RPO targets are scaled the same way. RTO targets are not scaled.`,
        ],
        scenarios: results,
    };
}
