// Free TCP ports on the loopback interface, for servers the tests and the drill start.

import * as net from "net";

export const LOOPBACK = "127.0.0.1";

/**
 * A port that was free a moment ago (the kernel picks it). Another process can still take it
 * before the caller binds it; callers that start servers retry on "address in use".
 */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, LOOPBACK, () => {
            const address = server.address();
            server.close(() => {
                if (address !== null && typeof address === "object") {
                    resolve(address.port);
                } else {
                    reject(new Error("could not determine a free port"));
                }
            });
        });
    });
}

/** True if something accepts TCP connections on the port. */
export function isListening(port: number, host = LOOPBACK): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ port, host });
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}
