"""python -m lzemu [--port N] [--port-file FILE] [--settings JSON_FILE]"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time


def _write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".lzemu-port-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv=None):
    started = time.monotonic()
    parser = argparse.ArgumentParser(prog="lzemu")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port here once serving")
    parser.add_argument("--settings", help="JSON file merged over the start-up defaults")
    args = parser.parse_args(argv)

    overrides = None
    if args.settings:
        with open(args.settings) as handle:
            overrides = json.load(handle)

    from werkzeug.serving import make_server

    from . import motoseam
    from .app import Emulator
    from .settings import Settings

    class QuietHandler(motoseam.request_handler_class()):
        def log_request(self, code="-", size="-"):
            if os.environ.get("LZEMU_VERBOSE"):
                super().log_request(code, size)

    emulator = Emulator(Settings(overrides))
    server = make_server("127.0.0.1", args.port, emulator, threaded=True,
                         request_handler=QuietHandler)
    port = server.server_port
    os.environ.setdefault("MOTO_PORT", str(port))
    if args.port_file:
        _write_atomically(args.port_file, f"{port}\n")
    print(f"LZEMU_PORT={port}", flush=True)
    print(f"lzemu: serving on http://127.0.0.1:{port} "
          f"(ready in {time.monotonic() - started:.2f}s)", file=sys.stderr, flush=True)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
