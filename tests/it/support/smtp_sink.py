"""A real SMTP server for the tests (aiosmtpd): accepts every message on 127.0.0.1 and writes
each one, as received, to OUT_DIR/<n>.eml (atomically, via a temporary name). Prints
"READY <port>" once listening, then runs until stdin closes or it is killed.

Usage: smtp_sink.py OUT_DIR [FAIL_FIRST]
FAIL_FIRST: answer the first N DATA commands with a temporary failure (451), to test retries.
"""

import os
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir, fail_first):
        self.out_dir = out_dir
        self.fail_left = fail_first
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later (test sink)"
            self.count += 1
            n = self.count
        tmp = os.path.join(self.out_dir, f".{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(f"X-Sink-Rcpt: {','.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.out_dir, f"{n}.eml"))
        return "250 OK"


def main():
    out_dir = sys.argv[1]
    fail_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    # aiosmtpd's controller checks its own listener by connecting to the given port, so it
    # needs a real port number rather than 0: take a free one from the kernel.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(out_dir, fail_first), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
