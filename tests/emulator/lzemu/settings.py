"""Emulator settings: start-up defaults, deep-merge updates, reset to start-up values.

Merge rules (used for --settings files and POST /_lzemu/settings):
- a dict merges key by key into the current dict;
- any other value replaces the current one;
- ``null`` for a top-level section resets it to its empty form
  (``{"rate_limits": null}`` switches every rate limit off);
- ``null`` for a key inside ``rate_limits`` or ``latency_ms`` removes that entry.
"""

import copy
import threading

# AWS publishes no throttling rates for Organizations (aws-facts.md;
# awsdocs/aws-organizations-docs#39 was closed unanswered). What it does publish, in
# the answer to a caller that bursts, is TooManyRequestsException "another request is
# already in progress". So by default the emulator throttles the policy APIs by
# requests in progress per account and operation. These limits are the emulator's
# own, not AWS's: low enough that lzctl's default read concurrency (8) overruns them.
_POLICY_WRITES_IN_PROGRESS = 2
_POLICY_READS_IN_PROGRESS = 4

DEFAULTS = {
    "limits": {
        # Characters per policy document, by policy type.
        "scp_max_size": 10240,
        "rcp_max_size": 5120,
        "tag_max_size": 10000,
        "backup_max_size": 10000,
        "aiservices_opt_out_max_size": 2500,
        "other_max_size": 10000,
        # Policies of one type attached to one root, OU or account.
        "scp_max_attachments": 10,
        "rcp_max_attachments": 5,
        "other_max_attachments": 10,
        # Detaching below this many SCPs fails (AWS: 1). 0 lets a target lose its
        # last SCP, so tests can stage the target_without_scp violation.
        "scp_min_attachments": 1,
        # OU levels below the root.
        "max_ou_depth": 5,
    },
    "latency_ms": {"default": 0},
    # Time a request spends inside its resource lock (server-side work; see locks.py).
    "hold_ms": {"default": 0},
    # Requests of one operation by one account in progress at once ("service:Operation"
    # or "default"); one more is answered with the service's throttling error.
    "in_progress_limits": {
        "default": None,
        "organizations:CreatePolicy": _POLICY_WRITES_IN_PROGRESS,
        "organizations:UpdatePolicy": _POLICY_WRITES_IN_PROGRESS,
        "organizations:AttachPolicy": _POLICY_WRITES_IN_PROGRESS,
        "organizations:DetachPolicy": _POLICY_WRITES_IN_PROGRESS,
        "organizations:DeletePolicy": _POLICY_WRITES_IN_PROGRESS,
        "organizations:ListPoliciesForTarget": _POLICY_READS_IN_PROGRESS,
        "organizations:ListTargetsForPolicy": _POLICY_READS_IN_PROGRESS,
    },
    # Token buckets ({"rate": per second, "burst": n}) by "service:Operation" or
    # "default": a sustained rate, for tests that need one. None by default.
    "rate_limits": {"default": None},
    "faults": {"throttle_rate": 0.0, "server_error_rate": 0.0, "seed": 0},
    "stackset_operation_seconds": 2.0,
    "controltower_operation_seconds": 3.0,
    # CreateAccount stays IN_PROGRESS this long (the account is in no listing meanwhile).
    "account_creation_seconds": 0,
    # CloseAccount leaves the account PENDING_CLOSURE this long, then SUSPENDED.
    "account_closure_seconds": 0,
    # Accounts whose stack instances fail in every StackSet operation.
    "stackset_fail_accounts": [],
    # Whether a Control Tower landing zone exists in the management account: false,
    # true, or an object (version, latestAvailableVersion, remediationTypes,
    # driftStatus, manifest) over the defaults in controltower.DEFAULT_LANDING_ZONE.
    "controltower_landing_zone": False,
    # Control Tower work on these targets fails with the message: OU id/ARN/name,
    # account id/ARN/email/name, the landing zone ARN or "landing-zone".
    "controltower_fail_targets": {},
    # Its home region; null = the region of the first Control Tower call (or
    # activity), else us-east-1.
    "controltower_home_region": None,
}

_EMPTY_SECTIONS = {
    "limits": lambda: copy.deepcopy(DEFAULTS["limits"]),
    "latency_ms": lambda: {"default": 0},
    "hold_ms": lambda: {"default": 0},
    "rate_limits": lambda: {"default": None},
    "in_progress_limits": lambda: {"default": None},
    "faults": lambda: {"throttle_rate": 0.0, "server_error_rate": 0.0, "seed": 0},
    "controltower_fail_targets": lambda: {},
}
_DELETABLE_KEYS = ("rate_limits", "in_progress_limits", "latency_ms", "hold_ms", "controltower_fail_targets")


def deep_merge(base, update, top=True, section=None):
    """Merge ``update`` into ``base`` in place and return ``base``."""
    for key, value in update.items():
        if value is None and top and key in _EMPTY_SECTIONS:
            base[key] = _EMPTY_SECTIONS[key]()
        elif value is None and section in _DELETABLE_KEYS and key != "default":
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value, top=False, section=key if top else section)
        else:
            base[key] = copy.deepcopy(value)
    return base


class Settings:
    """Thread-safe holder of the current settings and the start-up settings."""

    def __init__(self, startup_overrides=None):
        self._lock = threading.Lock()
        self._startup = copy.deepcopy(DEFAULTS)
        if startup_overrides:
            deep_merge(self._startup, startup_overrides)
        self._current = copy.deepcopy(self._startup)
        self.version = 0

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._current)

    def update(self, changes):
        if not isinstance(changes, dict):
            raise ValueError("settings must be a JSON object")
        with self._lock:
            deep_merge(self._current, changes)
            self.version += 1
            return copy.deepcopy(self._current)

    def reset(self):
        with self._lock:
            self._current = copy.deepcopy(self._startup)
            self.version += 1

    def get(self, *path, default=None):
        with self._lock:
            node = self._current
            for key in path:
                if not isinstance(node, dict) or key not in node:
                    return default
                node = node[key]
            return copy.deepcopy(node)
