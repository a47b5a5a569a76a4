// Debian's prometheus-postgres-exporter (0.11) in front of one local PostgreSQL server, serving
// only the custom queries it is given (its built-in pg_* metrics are off): the drill gives it
// CloudNativePG's queries (drill/monitoring/cnpgQueries.ts) so it exports what a cluster's instance
// manager would. The password travels in the environment (DATA_SOURCE_NAME), never on the command line.

import { HttpDaemon } from "./httpDaemon";
import { LocalPostgres } from "./postgres";
import { Tool } from "./tools";

export const POSTGRES_EXPORTER: Tool = { command: "prometheus-postgres-exporter", install: "apt-get install -y prometheus-postgres-exporter" };

export const QUERIES_FILE = "queries.yaml";

export interface PostgresExporterOptions {
    server: LocalPostgres;
    /** The custom queries file (postgres_exporter's --extend.query-path format). */
    queriesYaml: string;
    /** Names the process and temp dir (e.g. the pod it stands for). */
    name?: string;
}

/** Starts an exporter; its /metrics is ready once it answers (it connects to PostgreSQL per scrape). */
export function startPostgresExporter(options: PostgresExporterOptions): Promise<HttpDaemon> {
    const s = options.server;
    const dsn = `postgresql://${encodeURIComponent(s.superuser)}:${encodeURIComponent(s.password)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    return HttpDaemon.start({
        name: options.name ?? "postgres-exporter",
        tool: POSTGRES_EXPORTER,
        files: () => ({ [QUERIES_FILE]: options.queriesYaml }),
        args: (port, dir) => [
            `--web.listen-address=127.0.0.1:${port}`,
            `--extend.query-path=${dir}/${QUERIES_FILE}`,
            "--disable-default-metrics",
            "--disable-settings-metrics",
            "--log.level=warn",
        ],
        env: { DATA_SOURCE_NAME: dsn },
        readyPath: "/metrics",
    });
}
