"""CloudFormation StackSets that take time (issue 3 §2).

moto finishes StackSet operations instantly, resolves OU targets one level deep and
ignores AutoDeployment, so the emulator owns every StackSet operation itself (both
permission models) and leaves plain stacks to moto. Operations are RUNNING for
``stackset_operation_seconds`` and complete lazily when state is looked at; a second
operation on a busy stack set fails with OperationInProgressException unless
ManagedExecution is active, in which case it is QUEUED.

When an instance succeeds, its stack is really deployed in the member account and
region (moto's CloudFormation engine, through the moto seam): DescribeStacks there
shows it with its status, outputs and parameters, and the resources moto supports
exist. A template that does not deploy fails the instance with moto's message.
Failures can be injected per account, or per account × region × stack set.
Instances in suspended or closing accounts are skipped (SKIPPED_SUSPENDED_ACCOUNT)
unless an AccountFilterType DIFFERENCE leaves them out.
"""

import uuid

from . import motoseam
from .errors import AwsError
from .querywire import Timestamp, response, unflatten

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
OPERATIONS = {
    "CreateStackSet", "DescribeStackSet", "ListStackSets", "UpdateStackSet", "DeleteStackSet",
    "CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances",
    "ListStackInstances", "DescribeStackInstance", "DescribeStackSetOperation",
    "ListStackSetOperations", "ListStackSetOperationResults", "StopStackSetOperation",
}
CT_BLUEPRINT = "AWSControlTowerBP-BASELINE-CLOUDWATCH"


def _bool(value):
    return str(value).lower() == "true"


def _not_found(name):
    return AwsError("StackSetNotFoundException", f"StackSet {name} not found", 404)


def _in_progress(name):
    return AwsError("OperationInProgressException",
                    f"Another Operation on StackSet {name} is in progress", 409)


class Operation:
    def __init__(self, now, action, targets, prefs=None, retain=False, deployment_targets=None,
                 auto=False, apply=None, template=None, parameters=None):
        self.id = str(uuid.uuid4())
        self.action = action
        self.targets = targets  # list of (account, region, ou_id or None)
        self.prefs = prefs or {}
        self.retain = retain
        self.deployment_targets = deployment_targets
        self.auto = auto
        self.apply = apply  # callable(op) run once when the operation succeeds or fails
        # What the instances are deployed with (the stack set's, unless an update changes it).
        self.template = template
        self.parameters = parameters
        self.created = now
        self.start = None
        self.end = None
        self.status = "QUEUED"
        self.status_reason = None
        self.results = {(a, r): {"Status": "PENDING", "OrganizationalUnitId": ou}
                        for a, r, ou in targets}

    def summary(self):
        out = {"OperationId": self.id, "Action": self.action, "Status": self.status,
               "CreationTimestamp": Timestamp(self.created)}
        if self.end and self.status in ("SUCCEEDED", "FAILED", "STOPPED"):
            out["EndTimestamp"] = Timestamp(self.end)
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        failed = sum(1 for r in self.results.values() if r["Status"] == "FAILED")
        out["StatusDetails"] = {"FailedStackInstancesCount": failed}
        if self.prefs:
            out["OperationPreferences"] = self.prefs
        return out


class StackSet:
    def __init__(self, owner, region, params):
        self.owner = owner
        self.region = region
        self.name = params["StackSetName"]
        uid = uuid.uuid4()
        self.id = f"{self.name}:{uid}"
        self.arn = f"arn:aws:cloudformation:{region}:{owner}:stackset/{self.name}:{uid}"
        self.description = params.get("Description")
        self.template = params.get("TemplateBody") or params.get("TemplateURL") or ""
        self.parameters = params.get("Parameters") or []
        self.capabilities = params.get("Capabilities") or []
        self.tags = params.get("Tags") or []
        self.permission_model = params.get("PermissionModel") or "SELF_MANAGED"
        auto = params.get("AutoDeployment") or {}
        self.auto_deployment = {"Enabled": _bool(auto.get("Enabled", False)),
                                "RetainStacksOnAccountRemoval": _bool(auto.get("RetainStacksOnAccountRemoval", False))}
        managed = params.get("ManagedExecution") or {}
        self.managed_execution = _bool(managed.get("Active", False))
        self.admin_role = params.get("AdministrationRoleARN") or \
            f"arn:aws:iam::{owner}:role/service-role/AWSControlTowerStackSetRole"
        self.execution_role = params.get("ExecutionRoleName") or "AWSControlTowerExecution"
        if self.permission_model == "SELF_MANAGED" and not params.get("AdministrationRoleARN"):
            self.admin_role = f"arn:aws:iam::{owner}:role/AWSCloudFormationStackSetAdministrationRole"
            self.execution_role = params.get("ExecutionRoleName") or "AWSCloudFormationStackSetExecutionRole"
        self.status = "ACTIVE"
        self.ou_ids = []  # OUs targeted through DeploymentTargets (SERVICE_MANAGED)
        self.regions = []
        self.instances = {}  # (account, region) -> dict
        self.operations = []

    def running(self):
        return next((op for op in self.operations if op.status == "RUNNING"), None)

    def describe(self):
        out = {
            "StackSetName": self.name, "StackSetId": self.id, "Description": self.description,
            "Status": self.status, "TemplateBody": self.template, "Parameters": self.parameters,
            "Capabilities": self.capabilities, "Tags": self.tags, "StackSetARN": self.arn,
            "AdministrationRoleARN": self.admin_role, "ExecutionRoleName": self.execution_role,
            "PermissionModel": self.permission_model,
            "ManagedExecution": {"Active": self.managed_execution},
            "Regions": list(self.regions),
        }
        if self.permission_model == "SERVICE_MANAGED":
            out["AutoDeployment"] = self.auto_deployment
            out["OrganizationalUnitIds"] = list(self.ou_ids)
        return out

    def summary(self):
        out = {"StackSetName": self.name, "StackSetId": self.id, "Description": self.description,
               "Status": self.status, "PermissionModel": self.permission_model,
               "ManagedExecution": {"Active": self.managed_execution}}
        if self.permission_model == "SERVICE_MANAGED":
            out["AutoDeployment"] = self.auto_deployment
        return out


class StackSets:
    OPERATIONS = OPERATIONS

    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.sets = {}  # (owner, region, name) -> StackSet (ACTIVE and DELETED)

    # ------------------------------------------------------------- helpers
    def _owner(self, ctx, params):
        """CallAs=DELEGATED_ADMIN acts on the management account's stack sets, for
        accounts registered as delegated administrator for StackSets only."""
        if params.get("CallAs") != "DELEGATED_ADMIN":
            return ctx.account
        org = self.emulator.organizations.management_backend()
        principals = ("member.org.stacksets.cloudformation.amazonaws.com",
                      "stacksets.cloudformation.amazonaws.com")
        services = next((s for a, s in (org.delegated_admins() if org else []) if a == ctx.account), None)
        if services is None or not any(p in services for p in principals):
            raise AwsError("ValidationError",
                           f"Account {ctx.account} should be registered as delegated administrator "
                           "for StackSets to use CallAs DELEGATED_ADMIN", 400)
        return org.management_account

    def _find(self, owner, region, name, required=True):
        for (o, r, _), ss in self.sets.items():
            if o == owner and r == region and ss.status == "ACTIVE" and name in (ss.name, ss.id):
                return ss
        if required:
            raise _not_found(name)
        return None

    def _duration(self):
        return float(self.emulator.settings.get("stackset_operation_seconds", default=2.0))

    def _failing(self):
        return set(self.emulator.settings.get("stackset_fail_accounts", default=[]) or [])

    def _org(self):
        return self.emulator.organizations.management_backend()

    def _resolve(self, ss, params, existing_only=False):
        """Targets (account, region, ou) for Accounts/DeploymentTargets x Regions."""
        regions = params.get("Regions") or []
        targets = []
        dt = params.get("DeploymentTargets") or {}
        if ss.permission_model == "SERVICE_MANAGED" and dt.get("OrganizationalUnitIds"):
            org = self._org()
            rules = self.emulator.organizations
            by_account = {}
            for ou_id in dt["OrganizationalUnitIds"]:
                if org is None or rules.find_ou(org, ou_id) is None:
                    raise AwsError("ValidationError", f"OrganizationalUnit {ou_id} not found", 400)
                for account in self._accounts_under(org, ou_id):
                    if account != org.management_account:
                        by_account.setdefault(account, ou_id)
            listed = set(dt.get("Accounts") or [])
            mode = dt.get("AccountFilterType") or "NONE"
            if mode == "INTERSECTION":
                by_account = {a: o for a, o in by_account.items() if a in listed}
            elif mode == "DIFFERENCE":
                by_account = {a: o for a, o in by_account.items() if a not in listed}
            elif mode == "UNION":
                for a in listed:
                    by_account.setdefault(a, None)
            pairs = by_account.items()
        else:
            accounts = params.get("Accounts") or dt.get("Accounts") or []
            if ss.permission_model == "SERVICE_MANAGED" and not accounts and not existing_only:
                raise AwsError("ValidationError", "StackSets with SERVICE_MANAGED permission model "
                               "can only have OrganizationalUnit as target", 400)
            pairs = [(a, None) for a in accounts]
        for account, ou in pairs:
            for region in regions:
                if existing_only and (account, region) not in ss.instances:
                    continue
                targets.append((account, region, ou))
        return targets

    def _accounts_under(self, org, ou_id):
        """Every account in the OU's subtree, suspended and closing ones included
        (AWS targets them and skips them with SKIPPED_SUSPENDED_ACCOUNT)."""
        ids = set(self.emulator.organizations.subtree_ou_ids(org, ou_id))
        return [a.id for a in org.accounts() if a.parent_id in ids and a.state != "CLOSED"]

    def _account_state(self, account):
        org = self._org()
        found = org.find_account(account) if org is not None else None
        return found.state if found is not None else "ACTIVE"

    def _injected(self, ss, account, region):
        """The injected failure reason for this instance, or None."""
        if account in self._failing():
            return f"Injected failure for account {account} (stackset_fail_accounts)"
        for rule in self.emulator.settings.get("stackset_fail_instances", default=[]) or []:
            if rule.get("account") not in (None, account):
                continue
            if rule.get("region") not in (None, region):
                continue
            if rule.get("stack_set") not in (None, ss.name):
                continue
            return rule.get("reason") or \
                f"Injected failure for account {account} in {region} (stackset_fail_instances)"
        return None

    def _deploys(self):
        return bool(self.emulator.settings.get("stackset_deploy_stacks", default=True))

    @staticmethod
    def _params_dict(params):
        return {p.get("ParameterKey"): p.get("ParameterValue") for p in params or []
                if p.get("ParameterKey")}

    def _deploy(self, ss, op, account, region, instance):
        """Deploy (or delete) the instance's stack; returns a failure reason or None."""
        if not self._deploys() or "Resources" not in str(ss.template):
            return None  # nothing to deploy (Control Tower's placeholder blueprint)
        name = instance.get("StackName")
        if op.action == "DELETE":
            if not op.retain and name:
                with self.emulator.locks.hold(*self._stack_domains(account, ss.template)):
                    motoseam.delete_stack(account, region, name)
            return None
        template = op.template if op.template is not None else ss.template
        params = self._params_dict(op.parameters if op.parameters is not None else ss.parameters)
        params.update(self._params_dict(instance.get("ParameterOverrides")))
        tags = {t.get("Key"): t.get("Value") for t in ss.tags or [] if t.get("Key")}
        with self.emulator.locks.hold(*self._stack_domains(account, template)):
            stack_id, error = motoseam.deploy_stack(account, region, name, template, params, tags)
        if stack_id:
            instance["StackId"] = stack_id
        return error

    @staticmethod
    def _stack_domains(account, template):
        """The moto backends a stack's resources live in (locks ranked above ours)."""
        domains = {f"moto:cloudformation:{account}", "moto:iam"}
        for word in str(template).replace('"', " ").replace("'", " ").split():
            if word.startswith("AWS::") and word.count("::") >= 2:
                service = word.split("::")[1].lower()
                if service != "iam":
                    domains.add(f"moto:{service}:{account}")
        return sorted(domains)

    # ---------------------------------------------------------- time model
    def advance(self, ss):
        now = self.emulator.clock.now()
        while True:
            current = ss.running()
            if current is None:
                nxt = next((op for op in ss.operations if op.status == "QUEUED"), None)
                if nxt is None:
                    return
                ended = [op.end for op in ss.operations if op.end]
                nxt.start = max([nxt.created] + ended)
                nxt.end = nxt.start + self._duration()
                nxt.status = "RUNNING"
                self._begin(ss, nxt)
                continue
            if now < current.end:
                return
            self._finish(ss, current)

    def advance_all(self):
        for ss in list(self.sets.values()):
            self.advance(ss)

    def _begin(self, ss, op):
        for (account, region, ou) in op.targets:
            op.results[(account, region)]["Status"] = "RUNNING"
            if op.action == "CREATE" and (account, region) not in ss.instances:
                stack_name = f"StackSet-{ss.name}-{uuid.uuid4()}"
                ss.instances[(account, region)] = {
                    "Account": account, "Region": region, "OrganizationalUnitId": ou,
                    "Status": "OUTDATED", "DetailedStatus": "PENDING", "StackName": stack_name,
                    "StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{uuid.uuid4()}",
                    "ParameterOverrides": [],
                }
            instance = ss.instances.get((account, region))
            if instance is not None:
                instance["DetailedStatus"] = "RUNNING"
                instance["Status"] = "OUTDATED"
                instance["LastOperationId"] = op.id

    def _finish(self, ss, op):
        failed = 0
        for (account, region, _ou) in op.targets:
            result = op.results[(account, region)]
            instance = ss.instances.get((account, region))
            if op.action != "DELETE" and self._account_state(account) != "ACTIVE":
                # AWS skips suspended and closing accounts; the instance stays OUTDATED.
                result["Status"] = "CANCELLED"
                result["StatusReason"] = f"Account {account} is suspended: skipped"
                if instance is not None:
                    instance.update(Status="OUTDATED", DetailedStatus="SKIPPED_SUSPENDED_ACCOUNT",
                                    StatusReason=result["StatusReason"])
                continue
            reason = self._injected(ss, account, region)
            if reason is None and instance is not None:
                reason = self._deploy(ss, op, account, region, instance)
            if reason is not None:
                failed += 1
                result["Status"] = "FAILED"
                result["StatusReason"] = reason
                if instance is not None:
                    instance.update(Status="OUTDATED", DetailedStatus="FAILED",
                                    StatusReason=reason)
                continue
            result["Status"] = "SUCCEEDED"
            if op.action == "DELETE":
                ss.instances.pop((account, region), None)
            elif instance is not None:
                instance.update(Status="CURRENT", DetailedStatus="SUCCEEDED")
                instance.pop("StatusReason", None)
        tolerance = int(op.prefs.get("FailureToleranceCount") or 0)
        if "FailureTolerancePercentage" in op.prefs and op.targets:
            tolerance = int(len(op.targets) * int(op.prefs["FailureTolerancePercentage"]) / 100)
        op.status = "FAILED" if failed > tolerance else "SUCCEEDED"
        if op.status == "FAILED":
            op.status_reason = f"{failed} stack instance(s) failed"
        if op.apply:
            op.apply(op)

    def _submit(self, ss, op, ctx_key=None):
        """Queue or start ``op``; refuse when busy and ManagedExecution is off."""
        self.advance(ss)
        if op.template is None:
            op.template = ss.template
        if op.parameters is None:
            op.parameters = list(ss.parameters or [])
        busy = ss.running() is not None or any(o.status == "QUEUED" for o in ss.operations)
        if busy and not op.auto and not ss.managed_execution:
            running = ss.running()
            self.emulator.log.violation(
                "overlapping_stackset_operations",
                f"{ctx_key or op.action} on stack set {ss.name} while operation "
                f"{running.id if running else '?'} ({running.action if running else 'QUEUED'}) was in progress",
            )
            raise _in_progress(ss.name)
        ss.operations.append(op)
        self.advance(ss)
        return op

    # ------------------------------------------------------------- handler
    def before(self, ctx):
        if ctx.operation not in OPERATIONS:
            return None
        params = unflatten(ctx.params)
        result = getattr(self, "_" + ctx.operation)(ctx, params)
        body = response(ctx.operation, result or {}, NAMESPACE)
        return 200, [("Content-Type", "text/xml")], body

    def after(self, ctx, status, out):
        pass

    # ------------------------------------------------------------ stack sets
    def _CreateStackSet(self, ctx, params):
        owner = self._owner(ctx, params)
        region = ctx.info.region
        if self._find(owner, region, params.get("StackSetName", ""), required=False):
            raise AwsError("NameAlreadyExistsException",
                           f"StackSet {params['StackSetName']} already exists", 409)
        ss = StackSet(owner, region, params)
        self.sets[(owner, region, ss.id)] = ss
        return {"StackSetId": ss.id}

    def _DescribeStackSet(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        return {"StackSet": ss.describe()}

    def _ListStackSets(self, ctx, params):
        owner = self._owner(ctx, params)
        wanted = params.get("Status")
        items = [ss.summary() for (o, r, _), ss in self.sets.items()
                 if o == owner and r == ctx.info.region and (not wanted or ss.status == wanted)]
        return self._page(items, params)

    @staticmethod
    def _page(items, params, key="Summaries"):
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
        out = {key: items[start:start + size]}
        if start + size < len(items):
            out["NextToken"] = str(start + size)
        return out

    def _UpdateStackSet(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        if params.get("DeploymentTargets") or params.get("Accounts"):
            targets = self._resolve(ss, params, existing_only=True)
        else:
            regions = params.get("Regions")
            targets = [(a, r, i.get("OrganizationalUnitId")) for (a, r), i in ss.instances.items()
                       if not regions or r in regions]
        changes = {}
        for key, attr in (("Description", "description"), ("TemplateBody", "template"),
                          ("Parameters", "parameters"), ("Capabilities", "capabilities"),
                          ("Tags", "tags")):
            if key in params:
                changes[attr] = params[key]
        if "parameters" in changes:
            # UsePreviousValue keeps the stack set's current value.
            previous = self._params_dict(ss.parameters)
            changes["parameters"] = [
                {"ParameterKey": p.get("ParameterKey"),
                 "ParameterValue": previous.get(p.get("ParameterKey"))
                 if _bool(p.get("UsePreviousValue", False)) else p.get("ParameterValue")}
                for p in changes["parameters"]]
        if "AutoDeployment" in params:
            auto = params["AutoDeployment"]
            changes["auto_deployment"] = {
                "Enabled": _bool(auto.get("Enabled", ss.auto_deployment["Enabled"])),
                "RetainStacksOnAccountRemoval": _bool(auto.get(
                    "RetainStacksOnAccountRemoval", ss.auto_deployment["RetainStacksOnAccountRemoval"])),
            }
        if "ManagedExecution" in params:
            changes["managed_execution"] = _bool(params["ManagedExecution"].get("Active", False))

        def apply(op):
            for attr, value in changes.items():
                setattr(ss, attr, value)

        op = Operation(self.emulator.clock.now(), "UPDATE", targets, params.get("OperationPreferences"),
                       deployment_targets=params.get("DeploymentTargets"), apply=apply,
                       template=changes.get("template"), parameters=changes.get("parameters"))
        self._submit(ss, op, "UpdateStackSet")
        return {"OperationId": op.id}

    def _DeleteStackSet(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        if ss.running() is not None:
            raise _in_progress(ss.name)
        if ss.instances:
            raise AwsError("StackSetNotEmptyException",
                           f"StackSet {ss.name} is not empty: delete its stack instances first", 409)
        ss.status = "DELETED"
        return {}

    # ----------------------------------------------------------- instances
    def _CreateStackInstances(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        # Instances that exist already are skipped, as AWS does.
        targets = [t for t in self._resolve(ss, params) if (t[0], t[1]) not in ss.instances]
        ou_ids = (params.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []
        regions = params.get("Regions") or []

        def apply(op):
            for ou in ou_ids:
                if ou not in ss.ou_ids:
                    ss.ou_ids.append(ou)
            for region in regions:
                if region not in ss.regions:
                    ss.regions.append(region)

        op = Operation(self.emulator.clock.now(), "CREATE", targets, params.get("OperationPreferences"),
                       deployment_targets=params.get("DeploymentTargets"), apply=apply)
        self._submit(ss, op, "CreateStackInstances")
        # AutoDeployment follows the OUs as soon as they are targeted.
        apply(op)
        return {"OperationId": op.id}

    def _UpdateStackInstances(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        targets = self._resolve(ss, params, existing_only=True)
        if not targets:
            raise AwsError("StackInstanceNotFoundException",
                           "No stack instances for the given targets and regions", 404)
        overrides = params.get("ParameterOverrides") or []
        previous = {(a, r): ss.instances[(a, r)].get("ParameterOverrides") for a, r, _ in targets}
        for key in previous:
            ss.instances[key]["ParameterOverrides"] = overrides
        op = Operation(self.emulator.clock.now(), "UPDATE", targets, params.get("OperationPreferences"),
                       deployment_targets=params.get("DeploymentTargets"))
        try:
            self._submit(ss, op, "UpdateStackInstances")
        except AwsError:
            for key, value in previous.items():
                ss.instances[key]["ParameterOverrides"] = value
            raise
        return {"OperationId": op.id}

    def _DeleteStackInstances(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        targets = self._resolve(ss, params, existing_only=True)
        ou_ids = (params.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []
        op = Operation(self.emulator.clock.now(), "DELETE", targets, params.get("OperationPreferences"),
                       retain=_bool(params.get("RetainStacks", False)),
                       deployment_targets=params.get("DeploymentTargets"))
        self._submit(ss, op, "DeleteStackInstances")
        ss.ou_ids = [ou for ou in ss.ou_ids if ou not in ou_ids]
        return {"OperationId": op.id}

    @staticmethod
    def _instance_view(ss, instance):
        out = {"StackSetId": ss.id, "Region": instance["Region"], "Account": instance["Account"],
               "StackId": instance["StackId"], "Status": instance["Status"],
               "StackInstanceStatus": {"DetailedStatus": instance["DetailedStatus"]},
               "DriftStatus": "NOT_CHECKED"}
        for key in ("StatusReason", "OrganizationalUnitId", "LastOperationId"):
            if instance.get(key):
                out[key] = instance[key]
        return out

    def _ListStackInstances(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        filters = {f.get("Name"): f.get("Values") for f in params.get("Filters") or []}
        items = []
        for (account, region), instance in sorted(ss.instances.items()):
            if params.get("StackInstanceAccount") and account != params["StackInstanceAccount"]:
                continue
            if params.get("StackInstanceRegion") and region != params["StackInstanceRegion"]:
                continue
            if "DETAILED_STATUS" in filters and instance["DetailedStatus"] != filters["DETAILED_STATUS"]:
                continue
            if "LAST_OPERATION_ID" in filters and instance.get("LastOperationId") != filters["LAST_OPERATION_ID"]:
                continue
            items.append(self._instance_view(ss, instance))
        return self._page(items, params)

    def _DescribeStackInstance(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        key = (params.get("StackInstanceAccount"), params.get("StackInstanceRegion"))
        if key not in ss.instances:
            raise AwsError("StackInstanceNotFoundException",
                           f"Stack instance {key[0]} {key[1]} not found in {ss.name}", 404)
        view = self._instance_view(ss, ss.instances[key])
        view["ParameterOverrides"] = ss.instances[key].get("ParameterOverrides") or []
        return {"StackInstance": view}

    # ---------------------------------------------------------- operations
    def _op(self, ss, op_id):
        self.advance(ss)
        op = next((o for o in ss.operations if o.id == op_id), None)
        if op is None:
            raise AwsError("OperationNotFoundException", f"Operation {op_id} not found", 404)
        return op

    def _DescribeStackSetOperation(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        op = self._op(ss, params.get("OperationId"))
        out = op.summary()
        out.update({"StackSetId": ss.id, "RetainStacks": op.retain,
                    "AdministrationRoleARN": ss.admin_role, "ExecutionRoleName": ss.execution_role})
        out.pop("StatusDetails", None)
        out["StatusDetails"] = op.summary()["StatusDetails"]
        if op.deployment_targets:
            out["DeploymentTargets"] = op.deployment_targets
        return {"StackSetOperation": out}

    def _ListStackSetOperations(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        self.advance(ss)
        items = [op.summary() for op in sorted(ss.operations, key=lambda o: -o.created)]
        return self._page(items, params)

    def _ListStackSetOperationResults(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        op = self._op(ss, params.get("OperationId"))
        filters = {f.get("Name"): f.get("Values") for f in params.get("Filters") or []}
        items = []
        for (account, region), result in op.results.items():
            if "OPERATION_RESULT_STATUS" in filters and result["Status"] != filters["OPERATION_RESULT_STATUS"]:
                continue
            item = {"Account": account, "Region": region, "Status": result["Status"],
                    "AccountGateResult": {"Status": "SKIPPED",
                                          "StatusReason": "Function not found: AWSCloudFormationStackSetAccountGate"}}
            if result.get("StatusReason"):
                item["StatusReason"] = result["StatusReason"]
            if result.get("OrganizationalUnitId"):
                item["OrganizationalUnitId"] = result["OrganizationalUnitId"]
            items.append(item)
        return self._page(items, params)

    def _StopStackSetOperation(self, ctx, params):
        ss = self._find(self._owner(ctx, params), ctx.info.region, params.get("StackSetName", ""))
        op = self._op(ss, params.get("OperationId"))
        if op.status not in ("RUNNING", "QUEUED"):
            raise AwsError("InvalidOperationException", f"Operation {op.id} is {op.status}", 400)
        op.status = "STOPPED"
        op.end = self.emulator.clock.now()
        for result in op.results.values():
            if result["Status"] in ("PENDING", "RUNNING"):
                result["Status"] = "CANCELLED"
        for account, region, _ in op.targets:
            instance = ss.instances.get((account, region))
            if instance is not None and instance["DetailedStatus"] == "RUNNING":
                instance["DetailedStatus"] = "CANCELLED"
        self.advance(ss)
        return {}

    # -------------------------------------------------- organization hooks
    def on_account_moved(self, account_id, source_parent, destination_parent):
        """AutoDeployment: deploy to accounts entering a target OU subtree, remove
        (or retain) on leaving. Runs (Organizations lock held) after MoveAccount /
        CreateAccount succeeded."""
        with self.emulator.locks.hold("stacksets"):
            self._on_account_moved(account_id, source_parent, destination_parent)

    def _on_account_moved(self, account_id, source_parent, destination_parent):
        org = self._org()
        if org is None or account_id == org.management_account:
            return
        rules = self.emulator.organizations
        for ss in list(self.sets.values()):
            if ss.status != "ACTIVE" or ss.permission_model != "SERVICE_MANAGED" \
                    or not ss.auto_deployment["Enabled"] or ss.owner != org.management_account:
                continue
            covering = {}
            for ou in ss.ou_ids:
                if rules.find_ou(org, ou) is not None:
                    for sub in rules.subtree_ou_ids(org, ou):
                        covering.setdefault(sub, ou)
            before = source_parent is not None and source_parent in covering
            after = destination_parent in covering
            if after and not before:
                targets = [(account_id, r, covering[destination_parent]) for r in ss.regions
                           if (account_id, r) not in ss.instances]
                if targets:
                    self._submit(ss, Operation(self.emulator.clock.now(), "CREATE", targets, auto=True))
            elif before and not after:
                targets = [(account_id, r, None) for r in ss.regions if (account_id, r) in ss.instances]
                if targets:
                    self._submit(ss, Operation(
                        self.emulator.clock.now(), "DELETE", targets, auto=True,
                        retain=ss.auto_deployment["RetainStacksOnAccountRemoval"]))

    def controltower_deployed(self, ou_id):
        """OU registration deploys Control Tower's blueprint stack instances to the
        OU's accounts (an internal operation that never conflicts)."""
        with self.emulator.locks.hold("stacksets"):
            self._controltower_deployed(ou_id)

    def _controltower_deployed(self, ou_id):
        org = self._org()
        if org is None:
            return
        owner = org.management_account
        region = self.emulator.controltower.region or "us-east-1"
        ss = self._find(owner, region, CT_BLUEPRINT, required=False)
        if ss is None:
            ss = StackSet(owner, region, {"StackSetName": CT_BLUEPRINT,
                                          "Description": "AWS Control Tower baseline: CloudWatch",
                                          "TemplateBody": "{}"})
            ss.execution_role = "AWSControlTowerExecution"
            ss.admin_role = f"arn:aws:iam::{owner}:role/service-role/AWSControlTowerStackSetRole"
            ss.managed_execution = True
            ss.regions = [region]
            self.sets[(owner, region, ss.id)] = ss
        accounts = [a.id for a in org.accounts() if a.parent_id == ou_id and a.state == "ACTIVE"]
        targets = [(a, region, None) for a in accounts if (a, region) not in ss.instances]
        if targets:
            self._submit(ss, Operation(self.emulator.clock.now(), "CREATE", targets, auto=True))
