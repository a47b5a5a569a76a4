// What every scenario works with: the recorder of steps, events, checks and notes; the targets
// from the stack (scaled for the drill where they concern archive timing); a teardown scope for
// what it starts; and the probes several scenarios share.
import { formatDuration } from "../../model/duration";
import { LocalPostgres } from "../../local/postgres";
import { sleep } from "../../local/processes";
import { Teardown } from "../../local/teardown";
import { DrillSettings, Topology, TopologyOptions } from "../topology";
import { AlertFiring, Check, ExpectedAlert, RpoResult, RtoResult, Step, Target, TimelineEvent } from "../types";
import { firstWriteAccepted, presentSeqs } from "../workload";

/** Deliberate breakage, for tests that show a sabotaged setup makes the drill FAIL clearly. */
export type Sabotage = Pick<TopologyOptions, "archiveCommand" | "replicator"> & {
    /**
     * The emulated Barman Cloud plugin reports no backup (0, as it does for an ObjectStore that holds none) although
     * the scenario took one: its alerts then page about a backup that exists (drill/scenarios/alerts.ts).
     */
    pluginSeesNoBackup?: boolean;
};

export class Recorder {
    readonly start = Date.now();
    readonly startedAt = new Date(this.start).toISOString();
    readonly steps: Step[] = [];
    readonly events: TimelineEvent[] = [];
    readonly checks: Check[] = [];
    readonly notes: string[] = [];

    constructor(private readonly log: (line: string) => void, private readonly scenario: string) {}

    now(): number {
        return Date.now() - this.start;
    }

    async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
        const startMs = this.now();
        this.log(`  [${this.scenario}] ${name} ...`);
        try {
            return await fn();
        } finally {
            const endMs = this.now();
            this.steps.push({ name, startMs, endMs });
            this.log(`  [${this.scenario}] ${name}: ${((endMs - startMs) / 1000).toFixed(2)} s`);
        }
    }

    event(label: string, kind: TimelineEvent["kind"]): number {
        const atMs = this.now();
        this.events.push({ atMs, label, kind });
        this.log(`  [${this.scenario}] ${label}`);
        return atMs;
    }

    check(name: string, ok: boolean, detail: string): boolean {
        this.checks.push({ name, ok, detail });
        return ok;
    }
}

export interface ScenarioContext {
    settings: DrillSettings;
    rec: Recorder;
    sabotage: Sabotage;
    /** What the scenario starts goes here; it runs when the scenario ends, however it ends. */
    teardown: Teardown;
}

/** The RPO as a scenario measured it; the verdict is reached from it in result.ts. */
export type RpoMeasurement = Omit<RpoResult, "met"> & {
    /** What the limit is, for the failure line: "the region RPO", "the predicted log-shipping bound". */
    limitName: string;
};

/** What a scenario measured: everything the result needs besides the recorder. */
export interface Measurement {
    /** The one-line summary when the scenario passes. */
    passSummary: string;
    rpo?: RpoMeasurement;
    rto?: Omit<RtoResult, "met">;
    /** Acknowledgement times of the commits, and of the lost ones (ms since the scenario start). */
    commitsMs: number[];
    lostMs: number[];
    /** What the drill's Prometheus fired, and which alerts the fault must fire (judged in result.ts). */
    alerts?: { firings: AlertFiring[]; expected: Omit<ExpectedAlert, "met">[] };
}

export interface ScenarioDefinition {
    /** CLI name, e.g. "region-loss". */
    name: string;
    title: string;
    measure: (ctx: ScenarioContext) => Promise<Measurement>;
}

export function rpoTarget(s: DrillSettings, kind: "region" | "data-corruption"): Target {
    const seconds = kind === "region" ? s.config.rpo.regionSeconds : s.config.rpo.dataCorruptionSeconds;
    return {
        label: `${formatDuration(seconds)} (drstack:rpo.${kind}, scaled 1:${s.timeScale})`,
        seconds: seconds / s.timeScale,
    };
}

export function rtoTarget(s: DrillSettings, kind: "region" | "data-corruption"): Target {
    const seconds = kind === "region" ? s.config.rto.regionSeconds : s.config.rto.dataCorruptionSeconds;
    return { label: `${formatDuration(seconds)} (drstack:rto.${kind}, not scaled)`, seconds };
}

export function randomBetween(min: number, max: number): number {
    return min + Math.random() * (max - min);
}

export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const start = Date.now();
    while (!(await probe().catch(() => false))) {
        if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(100);
    }
}

export async function streamingStatus(standby: LocalPostgres): Promise<string> {
    const rows = await standby.query<{ status: string }>("SELECT status FROM pg_stat_wal_receiver");
    return rows[0]?.status ?? "not streaming";
}

export interface ArchiverStats {
    archived: number;
    failed: number;
    /** The last file archived (a segment, a .backup or .history file; null: none yet). */
    lastArchived: string | null;
    /** The last segment whose archiving failed (null: none yet). */
    lastFailed: string | null;
}

export async function archiverStats(pg: LocalPostgres): Promise<ArchiverStats> {
    const [row] = await pg.query<ArchiverStats>(
        'SELECT archived_count::int AS archived, failed_count::int AS failed, last_archived_wal AS "lastArchived", last_failed_wal AS "lastFailed" FROM pg_stat_archiver',
    );
    return row;
}

/**
 * Promotes the topology's standby as the runbooks do, until it accepts a write. Returns the RTO
 * (from `sinceMs`, the disaster or the start of the switchover) and the commits it holds.
 */
export async function promoteStandby(rec: Recorder, t: Topology, sinceMs: number): Promise<{ rtoSeconds: number; present: Set<number> }> {
    const standby = t.standby!;
    await rec.step("promote the standby (pg_promote)", () => standby.query("SELECT pg_promote(true, 120)"));
    await rec.step("first write accepted by the new primary", () => firstWriteAccepted(t.target(standby), 60000));
    const rtoSeconds = (rec.now() - sinceMs) / 1000;
    rec.event("standby promoted, accepting writes", "recovered");
    return { rtoSeconds, present: await presentSeqs(t.target(standby)) };
}
