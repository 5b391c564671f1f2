"""Control Tower (API 2018-05-10, restJson1), emulated from the botocore model.

Every operation runs for ``controltower_operation_seconds``; while any Control
Tower work is in progress (an operation started through the API or staged through
POST /_lzemu/controltower/activity), mutating Control Tower calls fail with
ConflictException (409). Operations finish lazily: whenever state is looked at,
those whose time is up complete and apply their effects.
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
# Operations that start Control Tower work and so conflict with work in progress.
MUTATING = {
    "CreateLandingZone", "UpdateLandingZone", "DeleteLandingZone", "ResetLandingZone",
    "EnableBaseline", "DisableBaseline", "ResetEnabledBaseline", "UpdateEnabledBaseline",
    "EnableControl", "DisableControl", "UpdateEnabledControl", "ResetEnabledControl",
}
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


def _iso(epoch):
    """The model declares these timestamps iso8601 (not restJson's default epoch)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _rid(n=16):
    return "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def _not_found(what):
    return AwsError("ResourceNotFoundException", f"{what} not found.", 404)


def _validation(message):
    return AwsError("ValidationException", message, 400)


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
    def __init__(self, now, family, op_type, seconds, target=None, on_done=None, fail=None, **extra):
        self.id = str(uuid.uuid4())
        self.family = family  # landingzone | baseline | control | account_factory
        self.type = op_type
        self.start = now
        self.end = self.start + max(0.0, seconds)
        self.status = "IN_PROGRESS"
        self.message = None
        self.target = target
        self.on_done = on_done
        self.fail = fail  # message when the operation is to fail
        self.extra = extra

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

    def _management_account(self):
        org = self.emulator.organizations.management_backend()
        return org.management_account if org else "123456789012"

    def _ensure_landing_zone(self, region):
        if self.region is None:
            self.region = (self.emulator.settings.get("controltower_home_region")
                           or region or "us-east-1")
        if self._lz_decided:
            return
        self._lz_decided = True
        if self.landing_zone is None and self.emulator.settings.get("controltower_landing_zone", default=False):
            account = self._management_account()
            self.landing_zone = {
                "arn": f"arn:aws:controltower:{self.region}:{account}:landingzone/{_rid()}",
                "version": "3.3",
                "latestAvailableVersion": "3.3",
                "status": "ACTIVE",
                "driftStatus": {"status": "IN_SYNC"},
                "remediationTypes": [],
                "manifest": {
                    "governedRegions": [self.region],
                    "organizationStructure": {"security": {"name": "Security"}},
                    "centralizedLogging": {"enabled": True},
                    "securityRoles": {},
                    "accessManagement": {"enabled": True},
                },
            }

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
        """The moto OU for an OU id or ARN, or None."""
        backend = self.emulator.organizations.management_backend()
        if backend is None or not target:
            return None, backend
        ou_id = target.rsplit("/", 1)[-1]
        return self.emulator.organizations.find_ou(backend, ou_id), backend

    # --------------------------------------------------------- time / busy
    def tick(self):
        now = self.emulator.clock.now()
        for op in list(self.operations.values()):
            if op.status == "IN_PROGRESS" and op.end <= now:
                op.status = "FAILED" if op.fail else "SUCCEEDED"
                op.message = op.fail
                if op.on_done:
                    op.on_done(op)

    def in_progress_now(self):
        """Operations in progress by the clock; lock-free (reads a snapshot and
        applies nothing), for the log and other domains."""
        now = self._now()
        return [op for op in list(self.operations.values()) if op.status == "IN_PROGRESS" and op.end > now]

    def busy_now(self):
        return bool(self.in_progress_now())

    def busy_reason(self):
        return ", ".join(f"{op.family}:{op.type}" for op in self.in_progress_now()) or None

    def status(self):
        with self.emulator.locks.hold("controltower"):
            self.tick()
            ops = [op for op in self.operations.values() if op.status == "IN_PROGRESS"]
        return {
            "busy": bool(ops),
            "operations": [dict(op.describe(), family=op.family, target=op.target) for op in ops],
            "landing_zone": self.landing_zone,
        }

    # ----------------------------------------------------------- activity
    def start_activity(self, kind, seconds, target=None, region=None):
        if kind not in ACTIVITY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ACTIVITY_KINDS)}")
        with self.emulator.locks.hold("organizations", "controltower", "servicecatalog"):
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
                op = Operation(self._now(), "account_factory", "PROVISION_PRODUCT", seconds, target=target)
                self.operations[op.id] = op
            return {"operationIdentifier": op.id, "kind": kind, "seconds": seconds,
                    "target": op.target}

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
        if op in MUTATING:
            running = [o for o in self.operations.values() if o.status == "IN_PROGRESS"]
            if running:
                raise AwsError(
                    "ConflictException",
                    "AWS Control Tower cannot begin a new operation while another operation "
                    f"is in progress ({running[0].family} {running[0].type} {running[0].id}).",
                    409,
                )
        params = ctx.params
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

        def done(op):
            lz["status"] = "FAILED" if op.fail else "ACTIVE"
            if changes and not op.fail:
                lz.update(changes)

        op = Operation(self._now(), "landingzone", op_type, seconds, target=lz["arn"], on_done=done)
        self.operations[op.id] = op
        return op

    def _ListLandingZones(self, params):
        items = [{"arn": self.landing_zone["arn"]}] if self.landing_zone else []
        return _paginate(items, params, "landingZones")

    def _GetLandingZone(self, params):
        lz = self._require_lz(params.get("landingZoneIdentifier"))
        return {"landingZone": {k: v for k, v in lz.items() if k != "tags"}}

    def _UpdateLandingZone(self, params):
        self._require_lz(params.get("landingZoneIdentifier"))
        if not params.get("version"):
            raise _validation("version is required.")
        changes = {"version": params["version"]}
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

    def _register_ou(self, target_arn, ou, seconds, existing, baseline, version, parameters,
                     op_type="ENABLE_BASELINE"):
        """Start an OU (re-)registration: the enabled baseline goes UNDER_CHANGE,
        an aws-guardrails SCP is attached, member accounts get child baselines."""
        fail = None
        if ou is not None and op_type == "ENABLE_BASELINE":
            fail = self._attach_guardrails(ou)
        entry = existing or {
            "arn": self._enabled_baseline_arn(),
            "baselineIdentifier": baseline["arn"],
            "targetIdentifier": target_arn,
            "parameters": parameters,
            "driftStatusSummary": {"types": {"inheritance": {"status": "IN_SYNC"}}},
        }
        entry["baselineVersion"] = version
        entry["status"] = "UNDER_CHANGE"
        self.enabled_baselines[entry["arn"]] = entry
        children = []
        if ou is not None and baseline["name"] == CT_BASELINE:
            org = self.emulator.organizations.management_backend()
            for account in org.accounts():
                if account.parent_id == ou.id and account.state == "ACTIVE":
                    child = {
                        "arn": self._enabled_baseline_arn(),
                        "baselineIdentifier": baseline["arn"],
                        "baselineVersion": version,
                        "targetIdentifier": account.arn,
                        "parentIdentifier": entry["arn"],
                        "status": "UNDER_CHANGE",
                        "child": True,
                        "driftStatusSummary": {"types": {"inheritance": {"status": "IN_SYNC"}}},
                    }
                    self.enabled_baselines[child["arn"]] = child
                    children.append(child)
            self.emulator.stacksets.controltower_deployed(ou.id)

        def done(op):
            for item in [entry] + children:
                item["status"] = "FAILED" if op.fail else "SUCCEEDED"
                item["lastOperationIdentifier"] = op.id

        op = Operation(self._now(), "baseline", op_type, seconds, target=target_arn, on_done=done, fail=fail)
        entry["lastOperationIdentifier"] = op.id
        for child in children:
            child["lastOperationIdentifier"] = op.id
        self.operations[op.id] = op
        return op

    def _attach_guardrails(self, ou):
        """Attach a Control Tower SCP as registration does; a full target makes it fail."""
        org = self.emulator.organizations.management_backend()
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
        baseline = self._baseline(entry["baselineIdentifier"])
        entry["status"] = "UNDER_CHANGE"
        children = [e for e in self.enabled_baselines.values() if e.get("parentIdentifier") == entry["arn"]]
        for child in children:
            child["status"] = "UNDER_CHANGE"

        def done(op):
            for item in [entry] + children:
                item["status"] = "FAILED" if op.fail else "SUCCEEDED"
                item["lastOperationIdentifier"] = op.id
                if version and not op.fail:
                    item["baselineVersion"] = version
            if parameters is not None and not op.fail:
                entry["parameters"] = parameters
            if remove and not op.fail:
                for item in [entry] + children:
                    self.enabled_baselines.pop(item["arn"], None)

        op = Operation(self._now(), "baseline", op_type, self._seconds(), target=entry["targetIdentifier"],
                       on_done=done, baseline=baseline["name"] if baseline else None)
        entry["lastOperationIdentifier"] = op.id
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

    @staticmethod
    def _enabled_baseline_view(entry, full=False):
        out = {k: entry[k] for k in ("arn", "baselineIdentifier", "baselineVersion",
                                     "targetIdentifier", "driftStatusSummary") if k in entry}
        if entry.get("parentIdentifier"):
            out["parentIdentifier"] = entry["parentIdentifier"]
        out["statusSummary"] = {"status": entry["status"]}
        if entry.get("lastOperationIdentifier"):
            out["statusSummary"]["lastOperationIdentifier"] = entry["lastOperationIdentifier"]
        if full:
            out["parameters"] = entry.get("parameters") or []
        return out

    def _ListEnabledBaselines(self, params):
        flt = params.get("filter") or {}
        include_children = bool(params.get("includeChildren"))
        items = []
        for entry in self.enabled_baselines.values():
            if entry.get("child") and not include_children:
                continue
            if flt.get("targetIdentifiers") and entry["targetIdentifier"] not in flt["targetIdentifiers"]:
                continue
            if flt.get("baselineIdentifiers") and entry["baselineIdentifier"] not in flt["baselineIdentifiers"]:
                continue
            if flt.get("parentIdentifiers") and entry.get("parentIdentifier") not in flt["parentIdentifiers"]:
                continue
            if flt.get("statuses") and entry["status"] not in flt["statuses"]:
                continue
            if flt.get("inheritanceDriftStatuses") and "IN_SYNC" not in flt["inheritanceDriftStatuses"]:
                continue
            if flt.get("sourceDriftStatuses") and "IN_SYNC" not in flt["sourceDriftStatuses"]:
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
