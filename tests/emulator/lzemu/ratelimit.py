"""Throttling per (account, "service:Operation"): requests in progress, token buckets;
and seeded random faults."""

import random
import threading


class TokenBucket:
    def __init__(self, rate, burst, now):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now):
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Looks up ``rate_limits[service:Operation]`` (else ``default``) per request."""

    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets = {}
        self._settings_version = None

    def reset(self):
        with self._lock:
            self._buckets.clear()

    def allow(self, rate_limits, settings_version, account, op_key):
        if op_key in rate_limits:
            limit, bucket_key = rate_limits[op_key], op_key
        else:
            limit, bucket_key = rate_limits.get("default"), "default:" + op_key
        if not limit:
            return True
        now = self._clock()
        with self._lock:
            if settings_version != self._settings_version:
                self._buckets.clear()
                self._settings_version = settings_version
            key = (account, bucket_key)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(
                    limit.get("rate", 1.0), limit.get("burst", 1), now
                )
            return bucket.take(now)


class InProgressLimiter:
    """Looks up ``in_progress_limits[service:Operation]`` (else ``default``): at most
    that many requests of one operation by one account are in progress at once; one
    more is refused (AWS Organizations answers such a burst with TooManyRequestsException,
    "another request is already in progress")."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}

    def reset(self):
        with self._lock:
            self._running.clear()

    def enter(self, limits, account, op_key):
        """A slot to hold until the request is answered (``leave``); ``None`` when the
        request is over the limit, ``()`` when no limit applies."""
        limit = limits.get(op_key, limits.get("default"))
        if not limit:
            return ()
        key = (account, op_key)
        with self._lock:
            running = self._running.get(key, 0)
            if running >= int(limit):
                return None
            self._running[key] = running + 1
        return key

    def leave(self, slot):
        if not slot:
            return
        with self._lock:
            left = self._running.get(slot, 1) - 1
            if left > 0:
                self._running[slot] = left
            else:
                self._running.pop(slot, None)


class FaultInjector:
    """Random throttling and server errors at configured rates, repeatable by seed;
    plus scheduled failures: the next N calls of one operation fail with a chosen error
    (``skip``: after that many calls of it have passed)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seed = None
        self._rng = random.Random(0)
        self._scheduled = []  # [{"operation", "code", "status", "message", "count"}]

    def reset(self):
        with self._lock:
            self._seed = None
            self._scheduled = []

    def schedule(self, spec):
        operation = spec.get("operation")
        when = spec.get("when", "before")
        close = bool(spec.get("close_connection", False))
        if not operation or ":" not in operation or not (spec.get("code") or close):
            raise ValueError('need "operation" ("service:Operation") and "code" (or "close_connection": true)')
        if when not in ("before", "after"):
            raise ValueError('"when" is "before" (fail instead of handling) or "after" (handle, then fail)')
        code = spec.get("code") or "ConnectionClosed"
        entry = {
            "operation": operation,
            "code": code,
            "status": int(spec.get("status", 500 if when == "after" else 400)),
            "message": spec.get("message") or f"Injected {code}",
            "count": int(spec.get("count", 1)),
            "skip": int(spec.get("skip", 0)),
            "when": when,
            "close_connection": close,
        }
        with self._lock:
            self._scheduled.append(entry)
            return [dict(e) for e in self._scheduled]

    def scheduled(self):
        with self._lock:
            return [dict(e) for e in self._scheduled]

    def take_scheduled(self, op_key, when="before"):
        """The scheduled failure for this call at this point, if any (and count it down)."""
        with self._lock:
            for entry in self._scheduled:
                if entry["operation"] == op_key and entry["when"] == when and entry["count"] > 0:
                    if entry["skip"] > 0:
                        entry["skip"] -= 1
                        return None
                    entry["count"] -= 1
                    if entry["count"] == 0:
                        self._scheduled.remove(entry)
                    return dict(entry)
        return None

    def draw(self, faults, settings_version=None):
        throttle = float(faults.get("throttle_rate") or 0.0)
        server = float(faults.get("server_error_rate") or 0.0)
        if throttle <= 0 and server <= 0:
            return None
        with self._lock:
            # Re-seed whenever the settings change, so a run is repeatable from
            # the moment a test sets its faults.
            seed = (faults.get("seed", 0), settings_version)
            if seed != self._seed:
                self._rng = random.Random(seed[0])
                self._seed = seed
            roll = self._rng.random()
        if roll < throttle:
            return "throttle"
        if roll < throttle + server:
            return "server_error"
        return None
