// A server's readiness probe must be answered by that server (local/processes.ts ManagedProcess.listensOn): the
// test suites run side by side, and a port freePort() returned can be bound by another suite's server first.
// Here a real process is started on a port another server already holds: the port answers, yet not from it.
import { strict as assert } from "assert";
import * as net from "net";
import { freePort, isListening, listeningSocketInodes, LOOPBACK } from "../../local/ports";
import { ManagedProcess, startProcess, waitFor } from "../../local/processes";

/** A node process in its own group that listens on `port` (and stays up until stopped). */
function listenerProcess(port: number): ManagedProcess {
    const script = `require("net").createServer().listen(${port}, "${LOOPBACK}", () => console.log("listening")); setInterval(() => {}, 1000);`;
    return startProcess("listener", process.execPath, ["-e", script], { env: { PATH: process.env.PATH ?? "" } });
}

function listenHere(port = 0): Promise<net.Server> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(port, LOOPBACK, () => resolve(server));
    });
}

describe("a readiness probe is answered by our own server (ManagedProcess.listensOn)", function () {
    this.timeout(30000);

    it("is true for the process that listens on the port, false for another port", async () => {
        const port = await freePort();
        const proc = listenerProcess(port);
        try {
            await waitFor(`the listener on ${port}`, () => isListening(port), 10000, 50);
            assert.equal(proc.listensOn(port), true);
            const other = await listenHere();
            try {
                const otherPort = (other.address() as net.AddressInfo).port;
                assert.equal(await isListening(otherPort), true);
                assert.equal(proc.listensOn(otherPort), false, "a port this test process holds is not the listener's");
            } finally {
                other.close();
            }
        } finally {
            await proc.stop("SIGKILL", 5000);
        }
    });

    it("is false when another server holds the port it was told to use: the port answers, but not from it", async () => {
        const foreign = await listenHere();
        const port = (foreign.address() as net.AddressInfo).port;
        const proc = listenerProcess(port);
        try {
            // What a connect-only probe sees: something accepts on the port.
            assert.equal(await isListening(port), true);
            assert.equal(listeningSocketInodes(port).size, 1);
            assert.equal(proc.listensOn(port), false);
            // The process itself cannot bind the port and exits, which the servers' start-ups retry on.
            await waitFor("the listener to exit on EADDRINUSE", () => !proc.running, 10000, 50);
        } finally {
            await proc.stop("SIGKILL", 5000);
            foreign.close();
        }
    });
});
