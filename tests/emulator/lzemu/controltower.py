"""Control Tower (API 2018-05-10, restJson1), emulated from the botocore model.

Every operation runs for ``controltower_operation_seconds`` of emulator time and
finishes lazily: whenever Control Tower state is looked at (with its lock held),
operations whose time is up complete and apply their effects. Others (the log,
Service Catalog) read statuses derived from the clock without applying anything.

Conflicts (ConflictException 409), as Control Tower runs "one operation at a time":
- a landing-zone operation conflicts with everything, and starts only when
  nothing runs;
- an OU baseline operation (Enable/Disable/Reset/UpdateEnabledBaseline) conflicts
  with a running landing-zone, control or OU baseline operation, and with account
  enrollments / Account Factory provisioning into the same OU;
- a control operation conflicts with a running landing-zone, control or OU
  baseline operation.
Account enrollments (auto-enrollment, Account Factory) run alongside each other.
"""

import random
import string
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote

from .errors import AwsError

# Path -> operation, from the model's requestUri values.
PATHS = {
    "/list-landingzones": "ListLandingZones",
    "/get-landingzone": "GetLandingZone",
    "/update-landingzone": "UpdateLandingZone",
    "/list-landingzone-operations": "ListLandingZoneOperations",
    "/get-landingzone-operation": "GetLandingZoneOperation",
    "/list-baselines": "ListBaselines",
    "/get-baseline": "GetBaseline",
    "/enable-baseline": "EnableBaseline",
    "/disable-baseline": "DisableBaseline",
    "/list-enabled-baselines": "ListEnabledBaselines",
    "/get-enabled-baseline": "GetEnabledBaseline",
    "/get-baseline-operation": "GetBaselineOperation",
    "/reset-enabled-baseline": "ResetEnabledBaseline",
    "/update-enabled-baseline": "UpdateEnabledBaseline",
    "/enable-control": "EnableControl",
    "/disable-control": "DisableControl",
    "/get-control-operation": "GetControlOperation",
    "/list-control-operations": "ListControlOperations",
    "/list-enabled-controls": "ListEnabledControls",
    "/get-enabled-control": "GetEnabledControl",
    "/create-landingzone": "CreateLandingZone",
    "/delete-landingzone": "DeleteLandingZone",
    "/reset-landingzone": "ResetLandingZone",
    "/update-enabled-control": "UpdateEnabledControl",
    "/reset-enabled-control": "ResetEnabledControl",
}
TAG_OPERATIONS = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}
LANDING_ZONE_OPS = {"CreateLandingZone", "UpdateLandingZone", "DeleteLandingZone", "ResetLandingZone"}
BASELINE_OPS = {"EnableBaseline", "DisableBaseline", "ResetEnabledBaseline", "UpdateEnabledBaseline"}
CONTROL_OPS = {"EnableControl", "DisableControl", "UpdateEnabledControl", "ResetEnabledControl"}
# Operations that start Control Tower work and so conflict with work in progress.
MUTATING = LANDING_ZONE_OPS | BASELINE_OPS | CONTROL_OPS
# Baselines as AWS lists them (ids are the 16-character ones AWS uses).
BASELINES = [
    ("17BSJV3IGJ2QSGA2", "AWSControlTowerBaseline", "4.0",
     "Sets up resources and mandatory controls for member accounts within the target OU."),
    ("LN25R72TTG6IGPTQ", "IdentityCenterBaseline", "1.0",
     "Sets up shared resources for AWS Identity Center, which prepares the AWSControlTowerBaseline."),
    ("J8HX46AHS5MIKQPD", "AuditBaseline", "1.0",
     "Sets up shared resources for the Audit account."),
    ("WUJ1GVS7W4I3LX3C", "LogArchiveBaseline", "1.0",
     "Sets up shared resources for the Log Archive account."),
    ("3WPD0IUY82ZP4FBD", "BackupBaseline", "1.0",
     "Sets up resources for AWS Backup within the target OU."),
]
CT_BASELINE = "AWSControlTowerBaseline"
ACTIVITY_KINDS = ("landing_zone_update", "register_ou", "control_operation", "account_factory")
DRIFT_VALUES = ("IN_SYNC", "DRIFTED")
# The start-up landing zone (setting controltower_landing_zone: true, or an object
# whose keys replace these; "manifest" is merged key by key).
DEFAULT_LANDING_ZONE = {
    "version": "3.3",
    "latestAvailableVersion": "3.3",
    "remediationTypes": [],
    "driftStatus": "IN_SYNC",
    "manifest": {
        "governedRegions": None,  # null = [home region]
        "organizationStructure": {"security": {"name": "Security"}, "sandbox": {"name": "Sandbox"}},
        "centralizedLogging": {"enabled": True,
                               "configurations": {"loggingBucket": {"retentionDays": 365},
                                                  "accessLoggingBucket": {"retentionDays": 3650}}},
        "securityRoles": {},
        "accessManagement": {"enabled": True},
    },
}


def _iso(epoch):
    """The model declares these timestamps iso8601 (not restJson's default epoch)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _rid(n=16):
    return "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def _not_found(what):
    return AwsError("ResourceNotFoundException", f"{what} not found.", 404)


def _validation(message):
    return AwsError("ValidationException", message, 400)


def _conflict(op):
    return AwsError(
        "ConflictException",
        "AWS Control Tower cannot begin a new operation while another operation "
        f"is in progress ({op.family} {op.type} {op.id} on {op.target}).",
        409,
    )


def version_tuple(version):
    try:
        return tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return (0,)


def _paginate(items, params, key):
    try:
        start = int(params.get("nextToken") or 0)
    except ValueError:
        raise _validation("Invalid nextToken.") from None
    size = int(params.get("maxResults") or 100)
    page = items[start:start + size]
    out = {key: page}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


class Operation:
    def __init__(self, now, family, op_type, seconds, target=None, on_done=None, fail=None,
                 scope=None, ou=None, **extra):
        self.id = str(uuid.uuid4())
        self.family = family  # landingzone | baseline | control | account_factory
        self.scope = scope  # baseline operations: "ou" or "account"
        self.ou = ou  # the OU ARN an account operation enrolls into
        self.type = op_type
        self.start = now
        self.end = self.start + max(0.0, seconds)
        self.status = "IN_PROGRESS"
        self.message = None
        self.target = target
        self.on_done = on_done
        self.fail = fail  # message when the operation is to fail
        self.extra = extra

    def status_at(self, now):
        """The status by the clock (whether or not the completion was applied)."""
        if self.status != "IN_PROGRESS" or self.end > now:
            return self.status
        return "FAILED" if self.fail else "SUCCEEDED"

    def describe(self):
        out = {"operationIdentifier": self.id, "operationType": self.type,
               "status": self.status, "startTime": _iso(self.start)}
        if self.status != "IN_PROGRESS":
            out["endTime"] = _iso(self.end)
        if self.message:
            out["statusMessage"] = self.message
        return out


class ControlTower:
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.region = None
        self.landing_zone = None
        self._lz_decided = False  # the start-up landing zone is made once per reset
        self.operations = {}
        self.enabled_baselines = {}
        self.enabled_controls = {}

    # ----------------------------------------------------------- helpers
    def operation_for_path(self, service, method, path):
        if service == "controltower":
            if path.startswith("/tags/"):
                return TAG_OPERATIONS.get(method)
            return PATHS.get(path.rstrip("/"))
        from .restmodel import operation_for

        return operation_for(service, method, path)

    def _org(self):
        return self.emulator.organizations.management_backend()

    def _management_account(self):
        org = self._org()
        return org.management_account if org else "123456789012"

    def _ensure_landing_zone(self, region):
        if self.region is None:
            self.region = (self.emulator.settings.get("controltower_home_region")
                           or region or "us-east-1")
        if self._lz_decided:
            return
        self._lz_decided = True
        setting = self.emulator.settings.get("controltower_landing_zone", default=False)
        if self.landing_zone is None and setting:
            self.landing_zone = self._new_landing_zone(setting if isinstance(setting, dict) else {})

    def _new_landing_zone(self, spec):
        account = self._management_account()
        manifest = dict(DEFAULT_LANDING_ZONE["manifest"])
        manifest.update(spec.get("manifest") or {})
        if not manifest.get("governedRegions"):
            manifest["governedRegions"] = [self.region]
        version = str(spec.get("version") or DEFAULT_LANDING_ZONE["version"])
        lz = {
            "arn": f"arn:aws:controltower:{self.region}:{account}:landingzone/{_rid()}",
            "version": version,
            "latestAvailableVersion": str(spec.get("latestAvailableVersion") or max(
                version, DEFAULT_LANDING_ZONE["latestAvailableVersion"], key=version_tuple)),
            "status": spec.get("status") or "ACTIVE",
            "driftStatus": {"status": spec.get("driftStatus") or "IN_SYNC"},
            "remediationTypes": list(spec.get("remediationTypes") or []),
            "manifest": manifest,
        }
        return lz

    def baseline_arn(self, baseline_id):
        return f"arn:aws:controltower:{self.region}::baseline/{baseline_id}"

    def _baseline(self, identifier, by_name=False):
        for bid, name, version, desc in BASELINES:
            if (by_name and identifier == name) or (not by_name and (
                    identifier in (self.baseline_arn(bid), bid) or identifier.endswith("/" + bid))):
                return {"arn": self.baseline_arn(bid), "name": name, "description": desc,
                        "version": version}
        return None

    def _now(self):
        return self.emulator.clock.now()

    def _seconds(self):
        return float(self.emulator.settings.get("controltower_operation_seconds", default=3.0))

    def _ou_from_target(self, target):
        """The OU for an OU id or ARN, or None."""
        org = self._org()
        if org is None or not target:
            return None, org
        ou_id = target.rsplit("/", 1)[-1]
        ou = org.find_ou(ou_id)
        return (ou if ou is not None and not ou.is_root else None), org

    def fail_message(self, *keys):
        """The configured failure (setting controltower_fail_targets) for any of these
        identifiers (OU id/ARN/name, account id/ARN/email/name), else None."""
        targets = self.emulator.settings.get("controltower_fail_targets", default={}) or {}
        for key in keys:
            if key and key in targets:
                return str(targets[key])
        return None

    def _ou_fail(self, ou):
        return self.fail_message(ou.id, ou.arn, ou.name)

    def _account_fail(self, account):
        return self.fail_message(account.id, account.arn, account.email, account.name)

    def auto_enrollment(self):
        """Landing zone >= 3.1 with remediationTypes containing INHERITANCE_DRIFT."""
        lz = self.landing_zone
        return bool(lz and lz.get("status") != "FAILED"
                    and "INHERITANCE_DRIFT" in (lz.get("remediationTypes") or [])
                    and version_tuple(lz.get("version")) >= (3, 1))

    # --------------------------------------------------------- time / busy
    def tick(self):
        now = self._now()
        for op in sorted(self.operations.values(), key=lambda o: o.end):
            if op.status == "IN_PROGRESS" and op.end <= now:
                op.status = "FAILED" if op.fail else "SUCCEEDED"
                op.message = op.fail
                if op.on_done:
                    op.on_done(op)

    def in_progress_now(self):
        """Operations in progress by the clock; lock-free (reads a snapshot and
        applies nothing), for the log and other domains."""
        now = self._now()
        return [op for op in list(self.operations.values()) if op.status_at(now) == "IN_PROGRESS"]

    def busy_now(self):
        return bool(self.in_progress_now())

    # Account operations Control Tower runs side by side (up to its account
    # concurrency quota): enrollments and Account Factory provisioning, each
    # in its own destination OU (one account operation per OU at a time).
    ACCOUNT_OPERATIONS = ("organizations:CreateAccount", "organizations:MoveAccount")

    def busy_for(self, key, params=None):
        """Whether Control Tower's work in progress makes the request ``key``
        (``service:Operation``) a race. Everything does, except that an account
        operation may run beside account enrollments and Account Factory
        provisioning into other OUs (CreateAccount lands in the root: beside
        any of them)."""
        ops = self.in_progress_now()
        if key in self.ACCOUNT_OPERATIONS:
            destination = (params or {}).get("DestinationParentId") if key.endswith("MoveAccount") else None

            def same_ou(op):
                return destination is not None and op.ou is not None and op.ou.rsplit("/", 1)[-1] == destination

            ops = [o for o in ops if not (
                (o.family == "account_factory" or (o.family == "baseline" and o.scope == "account"))
                and not same_ou(o))]
        return bool(ops)

    def busy_reason(self):
        return ", ".join(f"{op.family}:{op.type}" for op in self.in_progress_now()) or None

    def status(self):
        with self.emulator.locks.hold("controltower"):
            self.tick()
            ops = [op for op in self.operations.values() if op.status == "IN_PROGRESS"]
            return {
                "busy": bool(ops),
                "operations": [dict(op.describe(), family=op.family, scope=op.scope, target=op.target)
                               for op in ops],
                "landing_zone": self.landing_zone,
            }

    def _running(self):
        return [o for o in self.operations.values() if o.status == "IN_PROGRESS"]

    def _check_conflicts(self, operation, params):
        running = self._running()
        if not running:
            return
        if operation in LANDING_ZONE_OPS:
            raise _conflict(running[0])
        blocking = [o for o in running if o.family in ("landingzone", "control")
                    or (o.family == "baseline" and o.scope == "ou")]
        if operation in BASELINE_OPS:
            target = params.get("targetIdentifier")
            if operation != "EnableBaseline":
                entry = self.enabled_baselines.get(params.get("enabledBaselineIdentifier") or "")
                target = entry["targetIdentifier"] if entry else None
            ou, _ = self._ou_from_target(target)
            ou_arn = ou.arn if ou is not None else target
            blocking += [o for o in running if o.ou and o.ou == ou_arn]
        if blocking:
            raise _conflict(blocking[0])

    # ----------------------------------------------------------- activity
    def start_activity(self, kind, seconds, target=None, region=None, product_status=None):
        if kind not in ACTIVITY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ACTIVITY_KINDS)}")
        with self.emulator.locks.hold("organizations", "controltower", "servicecatalog", "stacksets"):
            self.tick()
            self._ensure_landing_zone(self.region or region)
            if kind == "landing_zone_update":
                op = self._start_landing_zone_op("UPDATE", seconds, None)
            elif kind == "register_ou":
                ou, _ = self._ou_from_target(target)
                target_arn = ou.arn if ou is not None else (
                    target or f"arn:aws:organizations::{self._management_account()}:ou/o-emulated/ou-emul-staged00")
                op = self._register_ou(target_arn, ou, seconds, existing=None,
                                       baseline=self._baseline(CT_BASELINE, by_name=True), version="4.0",
                                       parameters=[])
            elif kind == "control_operation":
                control = f"arn:aws:controlcatalog:::control/{_rid(26).lower()}"
                target_arn = target or f"arn:aws:organizations::{self._management_account()}:ou/o-emulated/ou-emul-staged00"
                op = self._start_enable_control(control, target_arn, seconds, [])
            else:
                product = self.emulator.servicecatalog.staged(seconds, target, product_status or "UNDER_CHANGE")
                op = self.operations[product["op"]]
                return {"operationIdentifier": op.id, "kind": kind, "seconds": seconds,
                        "target": op.target, "provisionedProductId": product["Id"]}
            return {"operationIdentifier": op.id, "kind": kind, "seconds": seconds,
                    "target": op.target}

    def start_factory_operation(self, seconds, target, fail=None, on_done=None):
        """Account Factory work with no account behind it (staged, or a request
        that fails validation): busy for ``seconds``."""
        op = Operation(self._now(), "account_factory", "PROVISION_PRODUCT", seconds, target=target,
                       on_done=on_done, fail=fail)
        self.operations[op.id] = op
        return op

    # ------------------------------------------------------- control endpoints
    def set_landing_zone(self, spec):
        """POST /_lzemu/controltower/landing-zone: set fields of the landing zone
        directly (no operation); creates it when there is none."""
        allowed = {"version", "latestAvailableVersion", "remediationTypes", "manifest", "driftStatus", "status"}
        if not isinstance(spec, dict) or not set(spec) <= allowed:
            raise ValueError(f"landing-zone takes {', '.join(sorted(allowed))}")
        if spec.get("driftStatus") not in (None,) + DRIFT_VALUES:
            raise ValueError("driftStatus is IN_SYNC or DRIFTED")
        with self.emulator.locks.hold("controltower"):
            self.tick()
            self._ensure_landing_zone(self.region)
            if self.landing_zone is None:
                self.landing_zone = self._new_landing_zone(spec)
                return self.landing_zone
            lz = self.landing_zone
            for key in ("version", "latestAvailableVersion", "status"):
                if spec.get(key) is not None:
                    lz[key] = str(spec[key])
            if "remediationTypes" in spec:
                lz["remediationTypes"] = list(spec["remediationTypes"] or [])
            if spec.get("manifest") is not None:
                lz["manifest"] = dict(lz.get("manifest") or {}, **spec["manifest"])
            if spec.get("driftStatus"):
                lz["driftStatus"] = {"status": spec["driftStatus"]}
            return lz

    def set_drift(self, spec):
        """POST /_lzemu/controltower/drift: set the landing zone's drift status and
        enabled baselines' inheritance/source drift."""
        if not isinstance(spec, dict) or not set(spec) <= {"landing_zone", "enabled_baselines"}:
            raise ValueError('drift takes {"landing_zone": ..., "enabled_baselines": [...]}')
        with self.emulator.locks.hold("controltower"):
            self.tick()
            self._ensure_landing_zone(self.region)
            out = {"landing_zone": None, "enabled_baselines": []}
            if spec.get("landing_zone") is not None:
                if spec["landing_zone"] not in DRIFT_VALUES:
                    raise ValueError("landing_zone is IN_SYNC or DRIFTED")
                lz = self._require_lz()
                lz["driftStatus"] = {"status": spec["landing_zone"]}
                out["landing_zone"] = lz["driftStatus"]["status"]
            for item in spec.get("enabled_baselines") or []:
                target = item.get("target") or item.get("arn")
                if not target:
                    raise ValueError("each enabled baseline needs a target (enabled baseline ARN, OU or account id/ARN)")
                matched = [e for e in self.enabled_baselines.values()
                           if target in (e["arn"], e["targetIdentifier"]) or e["targetIdentifier"].endswith("/" + target)]
                if not matched:
                    raise KeyError(f"enabled baseline for {target}")
                for kind in ("inheritance", "source"):
                    value = item.get(kind)
                    if value is None:
                        continue
                    if value not in DRIFT_VALUES:
                        raise ValueError(f"{kind} is IN_SYNC or DRIFTED")
                    for entry in matched:
                        entry["drift"][kind] = value
                out["enabled_baselines"].extend(e["arn"] for e in matched)
            return out

    # ------------------------------------------------------------- handler
    def before(self, ctx):
        op = ctx.operation
        if op not in PATHS.values() and op not in TAG_OPERATIONS.values():
            raise AwsError("UnknownOperationException", f"Unknown operation {op}.", 404)
        self.tick()
        self._ensure_landing_zone(ctx.info.region)
        if ctx.account != self._management_account():
            raise AwsError("AccessDeniedException",
                           "Control Tower APIs can be called only from the management account.", 403)
        params = ctx.params
        if op in MUTATING:
            self._check_conflicts(op, params)
        if op in TAG_OPERATIONS.values():
            params = dict(params, resourceArn=unquote(ctx.environ.get("PATH_INFO", "")[len("/tags/"):]),
                          tagKeys=parse_qs(ctx.environ.get("QUERY_STRING", "")).get("tagKeys", []))
        return 200, getattr(self, "_" + op)(params)

    def after(self, ctx, status, out):
        pass

    # ---------------------------------------------------------------- tags
    def _tagged(self, arn):
        if self.landing_zone is not None and self.landing_zone["arn"] == arn:
            return self.landing_zone
        entry = self.enabled_baselines.get(arn) or self.enabled_controls.get(arn)
        if entry is None:
            raise _not_found(f"Resource {arn}")
        return entry

    def _ListTagsForResource(self, params):
        return {"tags": dict(self._tagged(params["resourceArn"]).get("tags") or {})}

    def _TagResource(self, params):
        self._tagged(params["resourceArn"]).setdefault("tags", {}).update(params.get("tags") or {})
        return {}

    def _UntagResource(self, params):
        tags = self._tagged(params["resourceArn"]).setdefault("tags", {})
        for key in params.get("tagKeys") or []:
            tags.pop(key, None)
        return {}

    # -------------------------------------------------------- landing zone
    def _require_lz(self, identifier=None):
        lz = self.landing_zone
        if lz is None or (identifier is not None and identifier not in (lz["arn"], lz["arn"].rsplit("/", 1)[-1])):
            raise _not_found("Landing zone")
        return lz

    def _start_landing_zone_op(self, op_type, seconds, changes):
        lz = self._require_lz()
        lz["status"] = "PROCESSING"
        fail = self.fail_message(lz["arn"], "landing-zone")

        def done(op):
            lz["status"] = "FAILED" if op.fail else "ACTIVE"
            if changes and not op.fail:
                lz.update(changes)

        op = Operation(self._now(), "landingzone", op_type, seconds, target=lz["arn"], on_done=done, fail=fail)
        self.operations[op.id] = op
        return op

    @staticmethod
    def _check_remediation(version, remediation_types):
        if remediation_types and version_tuple(version) < (3, 1):
            raise _validation("remediationTypes requires landing zone version 3.1 or later.")
        for value in remediation_types or []:
            if value != "INHERITANCE_DRIFT":
                raise _validation(f"Unknown remediation type {value}.")

    def _ListLandingZones(self, params):
        items = [{"arn": self.landing_zone["arn"]}] if self.landing_zone else []
        return _paginate(items, params, "landingZones")

    def _GetLandingZone(self, params):
        lz = self._require_lz(params.get("landingZoneIdentifier"))
        return {"landingZone": {k: v for k, v in lz.items() if k != "tags"}}

    def _UpdateLandingZone(self, params):
        lz = self._require_lz(params.get("landingZoneIdentifier"))
        if not params.get("version"):
            raise _validation("version is required.")
        remediation = params.get("remediationTypes", lz.get("remediationTypes"))
        self._check_remediation(params["version"], remediation)
        changes = {"version": params["version"]}
        if version_tuple(params["version"]) > version_tuple(lz.get("latestAvailableVersion")):
            changes["latestAvailableVersion"] = params["version"]
        if "manifest" in params:
            changes["manifest"] = params["manifest"]
        if "remediationTypes" in params:
            changes["remediationTypes"] = params["remediationTypes"]
        op = self._start_landing_zone_op("UPDATE", self._seconds(), changes)
        return {"operationIdentifier": op.id}

    def _CreateLandingZone(self, params):
        if self.landing_zone is not None:
            raise _validation("A landing zone already exists in this account.")
        if not params.get("version") or "manifest" not in params:
            raise _validation("version and manifest are required.")
        self._check_remediation(params["version"], params.get("remediationTypes"))
        account = self._management_account()
        self.landing_zone = {
            "arn": f"arn:aws:controltower:{self.region}:{account}:landingzone/{_rid()}",
            "version": params["version"], "latestAvailableVersion": params["version"],
            "status": "PROCESSING", "driftStatus": {"status": "IN_SYNC"},
            "remediationTypes": params.get("remediationTypes") or [],
            "manifest": params["manifest"], "tags": params.get("tags") or {},
        }
        op = self._start_landing_zone_op("CREATE", self._seconds(), None)
        return {"arn": self.landing_zone["arn"], "operationIdentifier": op.id}

    def _DeleteLandingZone(self, params):
        lz = self._require_lz(params.get("landingZoneIdentifier"))
        op = self._start_landing_zone_op("DELETE", self._seconds(), None)
        original = op.on_done

        def done(finished):
            original(finished)
            if not finished.fail and self.landing_zone is lz:
                self.landing_zone = None

        op.on_done = done
        return {"operationIdentifier": op.id}

    def _ResetLandingZone(self, params):
        self._require_lz(params.get("landingZoneIdentifier"))
        op = self._start_landing_zone_op("RESET", self._seconds(), {"driftStatus": {"status": "IN_SYNC"}})
        return {"operationIdentifier": op.id}

    def _ListLandingZoneOperations(self, params):
        flt = params.get("filter") or {}
        ops = [o for o in self.operations.values() if o.family == "landingzone"
               and (not flt.get("types") or o.type in flt["types"])
               and (not flt.get("statuses") or o.status in flt["statuses"])]
        items = [{"operationIdentifier": o.id, "operationType": o.type, "status": o.status}
                 for o in sorted(ops, key=lambda o: -o.start)]
        return _paginate(items, params, "landingZoneOperations")

    def _get_op(self, family, identifier):
        op = self.operations.get(identifier or "")
        if op is None or op.family != family:
            raise _not_found("Operation")
        return op

    def _GetLandingZoneOperation(self, params):
        return {"operationDetails": self._get_op("landingzone", params.get("operationIdentifier")).describe()}

    # ----------------------------------------------------------- baselines
    def _ListBaselines(self, params):
        items = [{"arn": self.baseline_arn(bid), "name": name, "description": desc}
                 for bid, name, _, desc in BASELINES]
        return _paginate(items, params, "baselines")

    def _GetBaseline(self, params):
        baseline = self._baseline(params.get("baselineIdentifier", ""))
        if baseline is None:
            raise _not_found("Baseline")
        return {k: baseline[k] for k in ("arn", "name", "description")}

    def _enabled_baseline_arn(self):
        return f"arn:aws:controltower:{self.region}:{self._management_account()}:enabledbaseline/{_rid(17)}"

    @staticmethod
    def _new_drift():
        return {"inheritance": "IN_SYNC", "source": "IN_SYNC"}

    def registered_baseline(self, ou_id):
        """The AWSControlTowerBaseline enabled on this OU (not FAILED), or None."""
        ou, _ = self._ou_from_target(ou_id)
        if ou is None:
            return None
        ct = self._baseline(CT_BASELINE, by_name=True)["arn"]
        return next((e for e in self.enabled_baselines.values()
                     if e["targetIdentifier"] == ou.arn and e["baselineIdentifier"] == ct
                     and not e.get("child") and e["status"] != "FAILED"), None)

    def account_baseline(self, account_arn):
        """The account's own (child) AWSControlTowerBaseline, or None."""
        return next((e for e in self.enabled_baselines.values()
                     if e.get("child") and e["targetIdentifier"] == account_arn), None)

    def _child_for(self, account, parent):
        """Create or re-parent the account's child enabled baseline under ``parent``."""
        child = self.account_baseline(account.arn)
        created = child is None
        if created:
            child = {
                "arn": self._enabled_baseline_arn(),
                "baselineIdentifier": parent["baselineIdentifier"],
                "targetIdentifier": account.arn,
                "child": True,
                "parameters": [],
                "drift": self._new_drift(),
            }
            self.enabled_baselines[child["arn"]] = child
        child["parentIdentifier"] = parent["arn"]
        child["baselineVersion"] = parent["baselineVersion"]
        child["status"] = "UNDER_CHANGE"
        return child, created

    def _ou_accounts(self, ou):
        org = self._org()
        return [a for a in org.accounts() if a.parent_id == ou.id and a.state == "ACTIVE"] if org else []

    def _enroll_children(self, ou, parent):
        """Every active account directly in the OU gets (or is re-parented) a child
        baseline, UNDER_CHANGE. Returns [(child, failure message or None)]."""
        return [(self._child_for(account, parent)[0], self._account_fail(account))
                for account in self._ou_accounts(ou)]

    @staticmethod
    def _first_account_failure(children):
        for child, message in children:
            if message:
                return f"Account {child['targetIdentifier'].rsplit('/', 1)[-1]} failed to enroll: {message}"
        return None

    def _refresh_ou_drift(self, parent):
        """An OU baseline is in inheritance drift while one of its accounts is not
        enrolled under it."""
        ou, _ = self._ou_from_target(parent["targetIdentifier"])
        if ou is None:
            return
        drifted = False
        for account in self._ou_accounts(ou):
            child = self.account_baseline(account.arn)
            if child is None or child.get("parentIdentifier") != parent["arn"] or child["status"] == "FAILED":
                drifted = True
        parent["drift"]["inheritance"] = "DRIFTED" if drifted else "IN_SYNC"

    def _register_ou(self, target_arn, ou, seconds, existing, baseline, version, parameters,
                     op_type="ENABLE_BASELINE"):
        """Start an OU (re-)registration: the enabled baseline goes UNDER_CHANGE,
        an aws-guardrails SCP is attached, member accounts get child baselines."""
        ou_fail = None
        if ou is not None and op_type == "ENABLE_BASELINE":
            ou_fail = self._attach_guardrails(ou)
        if ou is not None:
            ou_fail = ou_fail or self._ou_fail(ou)
        entry = existing or {
            "arn": self._enabled_baseline_arn(),
            "baselineIdentifier": baseline["arn"],
            "targetIdentifier": target_arn,
            "parameters": parameters,
            "drift": self._new_drift(),
        }
        entry["baselineVersion"] = version
        entry["status"] = "UNDER_CHANGE"
        self.enabled_baselines[entry["arn"]] = entry
        children = []
        if ou is not None and baseline["name"] == CT_BASELINE:
            children = self._enroll_children(ou, entry)
            self.emulator.stacksets.controltower_deployed(ou.id)
        fail = ou_fail or self._first_account_failure(children)

        def done(op):
            # the enabled baseline follows its operation; accounts fail one by one
            entry["status"] = op.status
            entry["lastOperationIdentifier"] = op.id
            for child, message in children:
                child["status"] = "FAILED" if (ou_fail or message) else "SUCCEEDED"
                child["lastOperationIdentifier"] = op.id
                if child["status"] == "SUCCEEDED":
                    child["drift"]["inheritance"] = "IN_SYNC"
            self._refresh_ou_drift(entry)

        op = Operation(self._now(), "baseline", op_type, seconds, target=target_arn, on_done=done,
                       fail=fail, scope="ou")
        entry["lastOperationIdentifier"] = op.id
        for child, _ in children:
            child["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return op

    def _attach_guardrails(self, ou):
        """Attach a Control Tower SCP as registration does; a full target makes it fail."""
        org = self._org()
        rules = self.emulator.organizations
        attached = ou.policies()
        if any(p.name.startswith("aws-guardrails-") for p in attached):
            return None
        cap = int(self.emulator.settings.get("limits", "scp_max_attachments", default=10))
        if sum(1 for p in attached if p.type == "SERVICE_CONTROL_POLICY") >= cap:
            return ("AWS Control Tower could not attach its service control policy: "
                    "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
        policy = org.create_policy(
            name=f"aws-guardrails-{_rid(6)}",
            description="Control Tower mandatory guardrails",
            policy_type="SERVICE_CONTROL_POLICY",
            content='{"Version":"2012-10-17","Statement":[{"Sid":"GRCLOUDTRAILENABLED",'
                    '"Effect":"Deny","Action":["cloudtrail:DeleteTrail","cloudtrail:StopLogging"],'
                    '"Resource":["arn:aws:cloudtrail:*:*:trail/aws-controltower-*"],'
                    '"Condition":{"ArnNotLike":{"aws:PrincipalARN":'
                    '"arn:aws:iam::*:role/AWSControlTowerExecution"}}}]}',
        )
        org.attach_policy(policy.id, ou.id)
        rules.check_scp_invariant()
        return None

    def _EnableBaseline(self, params):
        for key in ("baselineIdentifier", "baselineVersion", "targetIdentifier"):
            if not params.get(key):
                raise _validation(f"{key} is required.")
        baseline = self._baseline(params["baselineIdentifier"])
        if baseline is None:
            raise _not_found("Baseline")
        target = params["targetIdentifier"]
        ou, _ = self._ou_from_target(target)
        if baseline["name"] == CT_BASELINE and ou is None:
            raise _not_found("Target organizational unit")
        for entry in self.enabled_baselines.values():
            if entry["targetIdentifier"] in (target, getattr(ou, "arn", None)) and \
                    entry["baselineIdentifier"] == baseline["arn"] and not entry.get("child"):
                raise _validation("The baseline is already enabled on this target.")
        target_arn = ou.arn if ou is not None else target
        op = self._register_ou(target_arn, ou, self._seconds(), None, baseline,
                               params["baselineVersion"], params.get("parameters") or [])
        entry = next(e for e in self.enabled_baselines.values() if e["lastOperationIdentifier"] == op.id
                     and not e.get("child"))
        if params.get("tags"):
            entry["tags"] = params["tags"]
        return {"arn": entry["arn"], "operationIdentifier": op.id}

    def _enabled_baseline(self, identifier):
        entry = self.enabled_baselines.get(identifier or "")
        if entry is None:
            raise _not_found("Enabled baseline")
        return entry

    def _start_baseline_change(self, entry, op_type, version=None, parameters=None, remove=False):
        """An operation on an enabled baseline. On an OU's AWSControlTowerBaseline,
        Reset (and Update) also enroll every account now in the OU."""
        baseline = self._baseline(entry["baselineIdentifier"])
        entry["status"] = "UNDER_CHANGE"
        ou, _ = self._ou_from_target(entry["targetIdentifier"]) if not entry.get("child") else (None, None)
        ou_fail = self._ou_fail(ou) if ou is not None else None
        enrolled = []
        if ou is not None and baseline and baseline["name"] == CT_BASELINE and not remove:
            enrolled = self._enroll_children(ou, entry)
        children = [e for e in self.enabled_baselines.values() if e.get("parentIdentifier") == entry["arn"]]
        for child in children:
            child["status"] = "UNDER_CHANGE"
        failing = {c["arn"] for c, m in enrolled if m}
        fail = ou_fail or self._first_account_failure(enrolled)

        def done(op):
            entry["status"] = op.status
            entry["lastOperationIdentifier"] = op.id
            for item in children:
                item["status"] = "FAILED" if (ou_fail or item["arn"] in failing) else "SUCCEEDED"
                item["lastOperationIdentifier"] = op.id
                if version and item["status"] == "SUCCEEDED":
                    item["baselineVersion"] = version
                if item["status"] == "SUCCEEDED" and op_type in ("RESET_ENABLED_BASELINE",
                                                                 "UPDATE_ENABLED_BASELINE"):
                    item["drift"]["inheritance"] = "IN_SYNC"
            if version and not ou_fail:
                entry["baselineVersion"] = version
            if parameters is not None and not ou_fail:
                entry["parameters"] = parameters
            if op_type == "RESET_ENABLED_BASELINE" and not ou_fail:
                entry["drift"]["source"] = "IN_SYNC"
                if entry.get("child"):
                    entry["drift"]["inheritance"] = "IN_SYNC"
            if not entry.get("child") and not remove:
                self._refresh_ou_drift(entry)
            if remove and not op.fail:
                for item in [entry] + children:
                    self.enabled_baselines.pop(item["arn"], None)

        op = Operation(self._now(), "baseline", op_type, self._seconds(), target=entry["targetIdentifier"],
                       on_done=done, fail=fail, scope="account" if entry.get("child") else "ou",
                       baseline=baseline["name"] if baseline else None)
        entry["lastOperationIdentifier"] = op.id
        for child in children:
            child["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return {"operationIdentifier": op.id}

    def _ResetEnabledBaseline(self, params):
        entry = self._enabled_baseline(params.get("enabledBaselineIdentifier"))
        return self._start_baseline_change(entry, "RESET_ENABLED_BASELINE")

    def _UpdateEnabledBaseline(self, params):
        entry = self._enabled_baseline(params.get("enabledBaselineIdentifier"))
        if not params.get("baselineVersion"):
            raise _validation("baselineVersion is required.")
        return self._start_baseline_change(entry, "UPDATE_ENABLED_BASELINE",
                                           version=params["baselineVersion"],
                                           parameters=params.get("parameters"))

    def _DisableBaseline(self, params):
        entry = self._enabled_baseline(params.get("enabledBaselineIdentifier"))
        return self._start_baseline_change(entry, "DISABLE_BASELINE", remove=True)

    # ------------------------------------------------------ account enrollment
    def enroll_account(self, account, parent, seconds=None, extra_fail=None, on_done=None):
        """Enroll one account under an OU's enabled baseline (auto-enrollment,
        Account Factory): its child baseline is UNDER_CHANGE for the operation's
        time, then SUCCEEDED (or FAILED with the configured message)."""
        child, created = self._child_for(account, parent)
        fail = extra_fail or self._account_fail(account)

        def done(op):
            child["status"] = "FAILED" if op.fail else "SUCCEEDED"
            child["lastOperationIdentifier"] = op.id
            if not op.fail:
                child["drift"]["inheritance"] = "IN_SYNC"
            current = self.enabled_baselines.get(parent["arn"])
            if current is not None:
                self._refresh_ou_drift(current)
            if on_done:
                on_done(op)

        op = Operation(self._now(), "baseline", "ENABLE_BASELINE" if created else "RESET_ENABLED_BASELINE",
                       self._seconds() if seconds is None else seconds, target=account.arn, on_done=done,
                       fail=fail, scope="account", ou=parent["targetIdentifier"])
        child["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return op, child

    def on_account_moved(self, account_id, source_id, destination_id):
        """After a successful MoveAccount (Organizations lock held): auto-enroll into
        a registered OU, or record the inheritance drift the move caused."""
        with self.emulator.locks.hold("controltower"):
            self.tick()
            org = self._org()
            account = org.find_account(account_id) if org else None
            if account is None or account.state != "ACTIVE":
                return
            self._ensure_landing_zone(self.region)
            parent = self.registered_baseline(destination_id)
            if parent is not None and self.auto_enrollment():
                self.enroll_account(account, parent)
                return
            child = self.account_baseline(account.arn)
            if child is not None and (parent is None or child.get("parentIdentifier") != parent["arn"]):
                child["drift"]["inheritance"] = "DRIFTED"
            if parent is not None:
                parent["drift"]["inheritance"] = "DRIFTED"

    # -------------------------------------------------- enabled baseline reads
    @staticmethod
    def _drift_view(entry):
        drift = entry.get("drift") or {}
        return {"types": {"inheritance": {"status": drift.get("inheritance", "IN_SYNC")},
                          "source": {"status": drift.get("source", "IN_SYNC")}}}

    def _enabled_baseline_view(self, entry, full=False):
        out = {k: entry[k] for k in ("arn", "baselineIdentifier", "baselineVersion", "targetIdentifier")
               if k in entry}
        out["driftStatusSummary"] = self._drift_view(entry)
        if entry.get("parentIdentifier"):
            out["parentIdentifier"] = entry["parentIdentifier"]
        out["statusSummary"] = {"status": entry["status"]}
        if entry.get("lastOperationIdentifier"):
            out["statusSummary"]["lastOperationIdentifier"] = entry["lastOperationIdentifier"]
        if full:
            out["parameters"] = entry.get("parameters") or []
        return out

    def _ListEnabledBaselines(self, params):
        """Child (account) baselines are listed with includeChildren=true, or when the
        filter names their target (targetIdentifiers) or parent (parentIdentifiers)."""
        flt = params.get("filter") or {}
        include_children = bool(params.get("includeChildren"))
        targets = flt.get("targetIdentifiers") or []
        parents = flt.get("parentIdentifiers") or []
        items = []
        for entry in self.enabled_baselines.values():
            if entry.get("child") and not (include_children or parents or entry["targetIdentifier"] in targets):
                continue
            if targets and entry["targetIdentifier"] not in targets:
                continue
            if flt.get("baselineIdentifiers") and entry["baselineIdentifier"] not in flt["baselineIdentifiers"]:
                continue
            if parents and entry.get("parentIdentifier") not in parents:
                continue
            if flt.get("statuses") and entry["status"] not in flt["statuses"]:
                continue
            drift = entry.get("drift") or {}
            if flt.get("inheritanceDriftStatuses") and \
                    drift.get("inheritance", "IN_SYNC") not in flt["inheritanceDriftStatuses"]:
                continue
            if flt.get("sourceDriftStatuses") and drift.get("source", "IN_SYNC") not in flt["sourceDriftStatuses"]:
                continue
            items.append(self._enabled_baseline_view(entry))
        return _paginate(items, params, "enabledBaselines")

    def _GetEnabledBaseline(self, params):
        entry = self._enabled_baseline(params.get("enabledBaselineIdentifier"))
        return {"enabledBaselineDetails": self._enabled_baseline_view(entry, full=True)}

    def _GetBaselineOperation(self, params):
        return {"baselineOperation": self._get_op("baseline", params.get("operationIdentifier")).describe()}

    # ------------------------------------------------------------ controls
    def _registered(self, target):
        ct = self._baseline(CT_BASELINE, by_name=True)["arn"]
        return any(e["targetIdentifier"] == target and e["baselineIdentifier"] == ct
                   and not e.get("child") and e["status"] != "FAILED"
                   for e in self.enabled_baselines.values())

    def _start_enable_control(self, control, target, seconds, parameters):
        arn = f"arn:aws:controltower:{self.region}:{self._management_account()}:enabledcontrol/{_rid(16)}"
        entry = {"arn": arn, "controlIdentifier": control, "targetIdentifier": target,
                 "status": "UNDER_CHANGE", "parameters": parameters,
                 "targetRegions": [{"name": self.region}]}
        self.enabled_controls[arn] = entry

        def done(op):
            entry["status"] = "FAILED" if op.fail else "SUCCEEDED"

        op = Operation(self._now(), "control", "ENABLE_CONTROL", seconds, target=target, on_done=done,
                       controlIdentifier=control, enabledControlIdentifier=arn)
        entry["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return op

    def _EnableControl(self, params):
        control, target = params.get("controlIdentifier"), params.get("targetIdentifier")
        if not control or not target:
            raise _validation("controlIdentifier and targetIdentifier are required.")
        ou, _ = self._ou_from_target(target)
        if ou is None:
            raise _not_found("Target")
        if not self._registered(ou.arn):
            raise _validation(f"The target {ou.arn} is not registered with AWS Control Tower.")
        if any(e["controlIdentifier"] == control and e["targetIdentifier"] == ou.arn
               for e in self.enabled_controls.values()):
            raise _validation("The control is already enabled on the target.")
        op = self._start_enable_control(control, ou.arn, self._seconds(), params.get("parameters") or [])
        return {"operationIdentifier": op.id, "arn": op.extra["enabledControlIdentifier"]}

    def _DisableControl(self, params):
        entry = self.enabled_controls.get(params.get("enabledControlIdentifier") or "")
        if entry is None:
            ou, _ = self._ou_from_target(params.get("targetIdentifier"))
            target = ou.arn if ou is not None else params.get("targetIdentifier")
            entry = next((e for e in self.enabled_controls.values()
                          if e["controlIdentifier"] == params.get("controlIdentifier")
                          and e["targetIdentifier"] == target), None)
        if entry is None:
            raise _not_found("Enabled control")
        entry["status"] = "UNDER_CHANGE"

        def done(op):
            if op.fail:
                entry["status"] = "FAILED"
            else:
                self.enabled_controls.pop(entry["arn"], None)

        op = Operation(self._now(), "control", "DISABLE_CONTROL", self._seconds(), target=entry["targetIdentifier"],
                       on_done=done, controlIdentifier=entry["controlIdentifier"],
                       enabledControlIdentifier=entry["arn"])
        entry["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return {"operationIdentifier": op.id}

    def _change_enabled_control(self, params, op_type, parameters=None):
        entry = self.enabled_controls.get(params.get("enabledControlIdentifier") or "")
        if entry is None:
            raise _not_found("Enabled control")
        entry["status"] = "UNDER_CHANGE"

        def done(op):
            entry["status"] = "FAILED" if op.fail else "SUCCEEDED"
            if parameters is not None and not op.fail:
                entry["parameters"] = parameters

        op = Operation(self._now(), "control", op_type, self._seconds(), target=entry["targetIdentifier"],
                       on_done=done, controlIdentifier=entry["controlIdentifier"],
                       enabledControlIdentifier=entry["arn"])
        entry["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return {"operationIdentifier": op.id}

    def _UpdateEnabledControl(self, params):
        if "parameters" not in params:
            raise _validation("parameters is required.")
        return self._change_enabled_control(params, "UPDATE_ENABLED_CONTROL", params["parameters"])

    def _ResetEnabledControl(self, params):
        return self._change_enabled_control(params, "RESET_ENABLED_CONTROL")

    @staticmethod
    def _control_op_view(op):
        out = op.describe()
        out["controlIdentifier"] = op.extra.get("controlIdentifier")
        out["enabledControlIdentifier"] = op.extra.get("enabledControlIdentifier")
        out["targetIdentifier"] = op.target
        return out

    def _GetControlOperation(self, params):
        return {"controlOperation": self._control_op_view(
            self._get_op("control", params.get("operationIdentifier")))}

    def _ListControlOperations(self, params):
        flt = params.get("filter") or {}
        items = []
        for op in sorted(self.operations.values(), key=lambda o: -o.start):
            if op.family != "control":
                continue
            view = self._control_op_view(op)
            if flt.get("statuses") and op.status not in flt["statuses"]:
                continue
            if flt.get("controlOperationTypes") and op.type not in flt["controlOperationTypes"]:
                continue
            if flt.get("targetIdentifiers") and op.target not in flt["targetIdentifiers"]:
                continue
            if flt.get("controlIdentifiers") and view["controlIdentifier"] not in flt["controlIdentifiers"]:
                continue
            if flt.get("enabledControlIdentifiers") and \
                    view["enabledControlIdentifier"] not in flt["enabledControlIdentifiers"]:
                continue
            items.append(view)
        return _paginate(items, params, "controlOperations")

    @staticmethod
    def _enabled_control_view(entry, full=False):
        out = {k: entry[k] for k in ("arn", "controlIdentifier", "targetIdentifier")}
        out["statusSummary"] = {"status": entry["status"],
                                "lastOperationIdentifier": entry["lastOperationIdentifier"]}
        out["driftStatusSummary"] = {"driftStatus": "IN_SYNC"}
        if full:
            out["targetRegions"] = entry["targetRegions"]
            out["parameters"] = entry["parameters"]
        return out

    def _ListEnabledControls(self, params):
        flt = params.get("filter") or {}
        target = params.get("targetIdentifier")
        if target:
            ou, _ = self._ou_from_target(target)
            if ou is None:
                raise _not_found("Target")
            target = ou.arn
        items = []
        for entry in self.enabled_controls.values():
            if target and entry["targetIdentifier"] != target:
                continue
            if flt.get("controlIdentifiers") and entry["controlIdentifier"] not in flt["controlIdentifiers"]:
                continue
            if flt.get("statuses") and entry["status"] not in flt["statuses"]:
                continue
            items.append(self._enabled_control_view(entry))
        return _paginate(items, params, "enabledControls")

    def _GetEnabledControl(self, params):
        entry = self.enabled_controls.get(params.get("enabledControlIdentifier") or "")
        if entry is None:
            raise _not_found("Enabled control")
        return {"enabledControlDetails": self._enabled_control_view(entry, full=True)}
