"""Token buckets per (account, "service:Operation") and seeded random faults."""

import random
import threading
import time


class TokenBucket:
    def __init__(self, rate, burst, now):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now):
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Looks up ``rate_limits[service:Operation]`` (else ``default``) per request."""

    def __init__(self, clock=time.monotonic):
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


class FaultInjector:
    """Random throttling and server errors at configured rates, repeatable by seed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seed = None
        self._rng = random.Random(0)

    def reset(self):
        with self._lock:
            self._seed = None

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
