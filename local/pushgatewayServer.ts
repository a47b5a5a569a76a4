// The real Prometheus Pushgateway (Debian's prometheus-pushgateway) for the drill: the backup and
// verification jobs push their results to it through PUSHGATEWAY_URL (scripts/lib.sh, publish_metrics),
// and Prometheus scrapes it with honor_labels, as in a cluster. (local/pushgateway.ts is a recording
// fake for tests that check what a job pushes; this one is what the alert rules are evaluated against.)

import { HttpDaemon } from "./httpDaemon";
import { Tool } from "./tools";

export const PUSHGATEWAY: Tool = { command: "prometheus-pushgateway", install: "apt-get install -y prometheus-pushgateway" };

export function startPushgateway(): Promise<HttpDaemon> {
    return HttpDaemon.start({
        name: "pushgateway",
        tool: PUSHGATEWAY,
        // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: results of an
        // earlier run would come back (and runs would share them). Memory only.
        args: (port) => [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", "--log.level=warn"],
        readyPath: "/-/ready",
    });
}
