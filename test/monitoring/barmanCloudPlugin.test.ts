// The emulated Barman Cloud plugin metrics: derived from a barman-cloud-backup-list catalog as the
// plugin derives its recovery window (oldest and newest DONE backup), 0 when there is none. The
// sample below has the shape barman 3.4 printed for a real backup to moto ("end_time": "Tue Nov 24 12:07:59 2026").
import { strict as assert } from "assert";
import { ctimeSeconds, parseBackupList, pluginMetricsText } from "../../drill/monitoring/barmanCloudPlugin";

/** The value of a metric line in Prometheus text format. */
function valueOf(text: string, metric: string): number {
    const line = text.split("\n").find((l) => l.startsWith(`${metric} `));
    assert.ok(line, `${metric} missing from:\n${text}`);
    return Number(line.split(" ")[1]);
}

describe("Barman Cloud plugin metrics emulation", () => {
    const list = JSON.stringify({
        backups_list: [
            { backup_id: "20261124T100000", status: "DONE", end_time: "Tue Nov 24 10:00:05 2026", begin_time: "Tue Nov 24 10:00:00 2026" },
            { backup_id: "20261124T110000", status: "FAILED", end_time: null },
            { backup_id: "20261124T114000", status: "DONE", end_time: "Tue Nov 24 11:40:09 2026" },
        ],
    });

    it("first recoverability point = oldest DONE backup's end, last available = newest DONE backup's end", () => {
        const text = pluginMetricsText(parseBackupList(list));
        assert.equal(valueOf(text, "barman_cloud_cloudnative_pg_io_first_recoverability_point"), Date.UTC(2026, 10, 24, 10, 0, 5) / 1000);
        assert.equal(valueOf(text, "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"), Date.UTC(2026, 10, 24, 11, 40, 9) / 1000);
        assert.equal(valueOf(text, "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp"), 0);
    });

    it("reports 0 for every metric when no backup is done, as the plugin does", () => {
        const text = pluginMetricsText(parseBackupList(JSON.stringify({ backups_list: [{ backup_id: "x", status: "STARTED" }] })));
        assert.equal(valueOf(text, "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"), 0);
        assert.equal(valueOf(text, "barman_cloud_cloudnative_pg_io_first_recoverability_point"), 0);
    });

    it("reads ctime with a space-padded day, and rejects anything else", () => {
        assert.equal(ctimeSeconds("Wed Nov  4 09:05:00 2026"), Date.UTC(2026, 10, 4, 9, 5, 0) / 1000);
        assert.throws(() => ctimeSeconds("2026-11-04T09:05:00Z"), /ctime format/);
        assert.throws(() => parseBackupList('{"backups": []}'), /unexpected barman-cloud-backup-list/);
    });
});
