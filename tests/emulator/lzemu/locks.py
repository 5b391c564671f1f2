"""Serialization per resource domain instead of one global lock.

A request holds the locks of the domains it reads and writes while it is
handled (latency sleeps happen before, outside every lock). Domains:

| domain | what it guards | taken by |
| --- | --- | --- |
| ``organizations`` | moto's Organizations backend, pending/failed/closing accounts | every Organizations request; Control Tower and Service Catalog requests that mutate |
| ``controltower`` | landing zone, operations, enabled baselines and controls | every Control Tower request; Service Catalog requests that mutate |
| ``servicecatalog`` | the Account Factory product, provisioned products, records | every Service Catalog request |
| ``stacksets`` | every stack set, instance and operation | StackSet requests; Organizations/Control Tower work that deploys |
| ``detective`` | GuardDuty/Security Hub/Config organization state | GuardDuty, Security Hub and Config requests |
| ``moto:iam`` | IAM of every account (STS writes access keys there) | IAM and STS requests, CreateAccount |
| ``s3:bucket:<name>`` | one S3 bucket (conditional writes are atomic, see ``s3lock.py``) | every S3 request naming the bucket |
| ``moto:<service>:<account>`` | one moto backend | every other request |

Locks are always taken in the order of ``RANKS`` (then by name); a thread that
holds a lock may take a higher-ranked one later (e.g. a MoveAccount that starts
an auto-deployment takes ``stacksets`` while holding ``organizations``), never a
lower one: that would be a deadlock waiting to happen and raises instead.
Readers of another domain's state take no lock: they read snapshots (lists copied
in one step) and time-derived statuses, as AWS's own cross-service reads are
eventually consistent.

``world``: every AWS request holds it shared, reset holds it exclusively.
"""

import threading
from contextlib import contextmanager

RANKS = {"organizations": 10, "controltower": 20, "servicecatalog": 30, "stacksets": 40,
         "detective": 50, "moto:iam": 80}
_MOTO_RANK = 90


def rank(name):
    return RANKS.get(name, _MOTO_RANK)


class LockOrderError(RuntimeError):
    pass


class RWLock:
    """Many readers or one writer; a waiting writer stops new readers."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextmanager
    def shared(self):
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self):
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Domains:
    def __init__(self):
        self._guard = threading.Lock()
        self._locks = {}
        self._local = threading.local()
        self.world = RWLock()

    def _lock(self, name):
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = threading.RLock()
            return lock

    def held(self):
        return list(getattr(self._local, "held", ()))

    @contextmanager
    def hold(self, *names):
        """Acquire the named domains (in rank order) for the duration of the block."""
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = []
        wanted = sorted({n for n in names if n and n not in held}, key=lambda n: (rank(n), n))
        if wanted and held:
            top = max(held, key=lambda n: (rank(n), n))
            if (rank(wanted[0]), wanted[0]) < (rank(top), top):
                raise LockOrderError(f"lock {wanted[0]} requested while holding {top}: take it first")
        taken = []
        try:
            for name in wanted:
                self._lock(name).acquire()
                taken.append(name)
                held.append(name)
            yield
        finally:
            for name in reversed(taken):
                held.remove(name)
                self._lock(name).release()
