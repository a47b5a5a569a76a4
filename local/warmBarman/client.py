#!/usr/bin/python3 -IS
# Why this exists: installed under the names barman-cloud-wal-archive and barman-cloud-wal-restore ahead of
# the real tools on a local server's PATH (local/warmBarman.ts), it has server.py run the real tool's code in a
# process forked after the imports, and ends as the tool ended (exit status or signal). It starts that server
# on first use, one per owner tag (DRSTACK_OWNER_TAG, local/processes.ts). Without a tag, or when the server
# does not serve a request (see server.py's protocol), it runs the real tool itself: a command never fails
# because of this shortcut.
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

TOOL = os.path.basename(sys.argv[0])
HERE = os.path.dirname(os.path.realpath(__file__))
TAG_VARIABLE = "DRSTACK_OWNER_TAG"
START_TIMEOUT_SECONDS = 60
# struct ucred: pid_t, uid_t, gid_t (socket(7), SO_PEERCRED).
UCRED = struct.Struct("iII")


def real_tool():
    """The first TOOL on PATH outside the directory this shortcut was found in."""
    shortcut_dir = os.path.realpath(os.path.dirname(os.path.abspath(sys.argv[0])))
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.realpath(directory) == shortcut_dir:
            continue
        candidate = os.path.join(directory, TOOL)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.stderr.write(f"{TOOL}: not found on PATH besides the warm shortcut in {shortcut_dir}\n")
    sys.exit(127)


def run_cold(reason):
    if reason:
        sys.stderr.write(f"{TOOL}: {reason}; running the tool in a process of its own\n")
        sys.stderr.flush()
    tool = real_tool()
    os.execv(tool, [tool] + sys.argv[1:])


def connect(name):
    """A connection to the warm server of this name, if one listens and runs as this user."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect("\0" + name)  # Linux's abstract namespace: no file, gone with the server
    except (ConnectionRefusedError, FileNotFoundError):
        conn.close()
        return None
    # Anyone may bind an abstract name: hand the environment and stdio only to a server of our own user.
    _pid, uid, _gid = UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
    if uid != os.getuid():
        conn.close()
        run_cold(f"the socket {name} belongs to uid {uid}, not to this user")
    return conn


def main():
    # fds 0-2 are what the tool gets: /dev/null for any that is closed, before a socket can take its number.
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)
    tag = os.environ.get(TAG_VARIABLE)
    if not tag:
        run_cold(None)
    name = f"drstack-warm-barman.{tag}"
    conn = connect(name)
    if conn is None:
        # stdin/stdout to /dev/null and a session of its own: the server must not hold the caller's pipes open
        # (runProcess waits for them to close), nor take the signals meant for the caller's group.
        with open(os.path.join(HERE, "server-errors.log"), "ab") as errors:
            server = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), name], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while conn is None:
            if time.monotonic() > deadline:
                run_cold(f"the warm barman-cloud server did not answer within {START_TIMEOUT_SECONDS} s")
            if server.poll() not in (None, 0):
                run_cold(f"the warm barman-cloud server exited with status {server.returncode} (see {HERE}/server-errors.log)")
            time.sleep(0.05)
            conn = connect(name)
    umask = os.umask(0)
    os.umask(umask)
    request = {"tool": TOOL, "argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": umask}
    try:
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    except OSError as error:  # EMSGSIZE: an environment too large for one message
        run_cold(f"could not hand the request to the warm barman-cloud server ({error})")
    if conn.recv(1) != b"S":
        # Not served (server.py: e.g. an import-time setting differs from the server's); nothing has run yet.
        run_cold("not served by the warm barman-cloud server")
    ended = conn.recv(2)
    if ended[:1] == b"K":
        # Killed by a signal: end by the same signal, as PostgreSQL then sees what it would see cold.
        if ended[1] not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught, so need no reset
            signal.signal(ended[1], signal.SIG_DFL)
        os.kill(os.getpid(), ended[1])
        sys.exit(128 + ended[1])
    if ended[:1] == b"E":
        sys.exit(ended[1])
    sys.stderr.write(f"{TOOL}: the warm barman-cloud server ended the run without its status\n")
    sys.exit(1)


if __name__ == "__main__":
    main()
