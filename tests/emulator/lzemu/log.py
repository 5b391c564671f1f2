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
        self._seq = 0
        self._local = threading.local()  # violations raised while a request is handled
        self._violations = []

    def record(self, account, service, operation, mutating, status, error_code, ct_busy,
               classification="read", fault=None):
        now = self._clock.now()
        start = getattr(self._local, "start", None) or now
        self._local.start = None
        entry = {
            "seq": 0,
            "time": iso(now),
            # Arrival and answer, epoch seconds: with the configured latency
            # inside, [start, end] is the call as the client saw it.
            "start": round(start, 6),
            "end": round(now, 6),
            "account": account,
            "service": service,
            "operation": operation,
            "mutating": bool(mutating),
            "classification": classification,
            "status": int(status),
            "error_code": error_code,
            "ct_busy": bool(ct_busy),
            "fault": fault,
        }
        pending = getattr(self._local, "pending", None) or []
        self._local.pending = None
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            for violation in pending:
                violation["seq"] = self._seq
                self._violations.append(violation)
        return entry

    def begin(self):
        """A request starts on this thread: its violations wait for its seq."""
        self._local.pending = []
        self._local.start = self._clock.now()

    def violation(self, kind, detail, seq=None):
        entry = {"time": iso(self._clock.now()), "kind": kind, "detail": detail, "seq": seq}
        pending = getattr(self._local, "pending", None)
        if seq is None and pending is not None:
            pending.append(entry)
            return entry
        with self._lock:
            self._violations.append(entry)
        return entry

    def entries(self):
        with self._lock:
            return list(self._entries)

    def violations(self):
        with self._lock:
            return list(self._violations)

    def clear(self, restart_seq=False):
        """Empty log and violations; a reset also restarts seq at 1."""
        with self._lock:
            self._entries.clear()
            self._violations.clear()
            if restart_seq:
                self._seq = 0
