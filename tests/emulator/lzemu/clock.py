"""The emulator's clock: real time plus an offset tests can move, or frozen.

Everything timed in the emulator reads ``Clock.now()``: Control Tower and
Service Catalog operations, StackSet operations, account creation and closure,
rate-limit buckets, the log and every timestamp in an answer (moto's too, through
motoseam.install_clock). Latency sleeps stay in real time.
"""

import threading
import time


class Clock:
    def __init__(self, source=time.time):
        self._source = source
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen = None  # epoch seconds while frozen

    def now(self):
        frozen = self._frozen
        if frozen is not None:
            return frozen
        return self._source() + self._offset

    def state(self):
        with self._lock:
            now = self.now()
            return {"now": now, "offset": now - self._source(), "frozen": self._frozen is not None}

    def reset(self):
        with self._lock:
            self._offset = 0.0
            self._frozen = None

    def update(self, request):
        """Apply ``{"set": epoch, "advance": seconds, "freeze": bool}`` in that order."""
        if not isinstance(request, dict) or not set(request) <= {"set", "advance", "freeze"}:
            raise ValueError('clock takes {"set": epoch seconds, "advance": seconds, "freeze": true|false}')
        with self._lock:
            if request.get("set") is not None:
                target = float(request["set"])
                if self._frozen is not None:
                    self._frozen = target
                else:
                    self._offset = target - self._source()
            if request.get("advance") is not None:
                seconds = float(request["advance"])
                if seconds < 0:
                    raise ValueError("advance must be >= 0 (use set to go back)")
                if self._frozen is not None:
                    self._frozen += seconds
                else:
                    self._offset += seconds
            if "freeze" in request:
                if request["freeze"] and self._frozen is None:
                    self._frozen = self._source() + self._offset
                elif not request["freeze"] and self._frozen is not None:
                    self._offset = self._frozen - self._source()
                    self._frozen = None
        return self.state()
