"""Request log and invariant violations, kept in memory."""

import threading
from datetime import datetime, timezone


def iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventLog:
    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._entries = []
        self._violations = []

    def record(self, account, service, operation, mutating, status, error_code, ct_busy,
               classification="read"):
        entry = {
            "time": iso(self._clock.now()),
            "account": account,
            "service": service,
            "operation": operation,
            "mutating": bool(mutating),
            "classification": classification,
            "status": int(status),
            "error_code": error_code,
            "ct_busy": bool(ct_busy),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def violation(self, kind, detail):
        entry = {"time": iso(self._clock.now()), "kind": kind, "detail": detail}
        with self._lock:
            self._violations.append(entry)
        return entry

    def entries(self):
        with self._lock:
            return list(self._entries)

    def violations(self):
        with self._lock:
            return list(self._violations)

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._violations.clear()
