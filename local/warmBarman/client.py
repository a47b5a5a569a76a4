#!/usr/bin/python3 -IS
# Why this exists: installed under the names barman-cloud-wal-archive and barman-cloud-wal-restore ahead of
# the real tools on a local server's PATH (local/warmBarman.ts), it has server.py run the real tool's code in a
# process forked after the imports, and exits with the tool's status. It starts that server on first use,
# one per owner tag (DRSTACK_OWNER_TAG, local/processes.ts). Without a tag, or when no server answers, it
# runs the real tool itself, so a command never fails because of this shortcut.
import json
import os
import socket
import subprocess
import sys
import time

TOOL = os.path.basename(sys.argv[0])
HERE = os.path.dirname(os.path.realpath(__file__))
TAG_VARIABLE = "DRSTACK_OWNER_TAG"
START_TIMEOUT_SECONDS = 60


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
    tool = real_tool()
    os.execv(tool, [tool] + sys.argv[1:])


def connect(name):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect("\0" + name)  # Linux's abstract namespace: no file, gone with the server
        return conn
    except (ConnectionRefusedError, FileNotFoundError):
        conn.close()
        return None


def open_fds():
    """This process's stdin, stdout and stderr, /dev/null for any that is closed."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def main():
    tag = os.environ.get(TAG_VARIABLE)
    if not tag:
        run_cold(None)
    name = f"drstack-warm-barman.{tag}"
    conn = connect(name)
    if conn is None:
        # stdio to /dev/null and a session of its own: the server must not hold the caller's pipes open
        # (runProcess waits for them to close), nor take the signals meant for the caller's group.
        server = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), name], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while conn is None:
            if time.monotonic() > deadline:
                run_cold(f"the warm barman-cloud server did not answer within {START_TIMEOUT_SECONDS} s")
            if server.poll() not in (None, 0):
                run_cold(f"the warm barman-cloud server exited with status {server.returncode}")
            time.sleep(0.05)
            conn = connect(name)
    request = {"tool": TOOL, "argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}
    try:
        socket.send_fds(conn, [json.dumps(request).encode()], open_fds())
    except (OSError, ValueError) as error:  # ValueError: an environment that is not valid UTF-8
        run_cold(f"could not hand the request to the warm barman-cloud server ({error})")
    status = conn.recv(1)
    # No status: the forked tool died without one (killed); say so like a shell would.
    sys.exit(status[0] if status else 1)


if __name__ == "__main__":
    main()
