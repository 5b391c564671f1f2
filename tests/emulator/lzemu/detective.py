"""Detective services at organization level, the parts moto lacks.

GuardDuty (here): Enable/Disable/ListOrganizationAdminAccounts, Update/Describe-
OrganizationConfiguration, CreateMembers, ListMembers, GetOrganizationStatistics.
Security Hub: Enable/Disable/ListOrganizationAdminAccounts, DescribeStandards,
BatchEnableStandards, BatchDisableStandards, GetEnabledStandards (here); finding
aggregator, central configuration, configuration policies and associations,
GetFindings over seeded findings (``detective_hub``).
Config: organization rules with per-member deployment, aggregators and
aggregated compliance over seeded results (``detective_config``).
CloudTrail: Control Tower's organization trail (``detective_trail``).

State is per region (and per account where AWS keeps it per account). Calls from
the wrong account are refused: management-only calls from anyone else, admin-only
calls from anyone but the region's delegated administrator.
Detectors, hubs and everything else stay with moto.
"""

import time
from urllib.parse import parse_qs

from . import motoseam
from .detective_config import ConfigMixin
from .detective_hub import SecurityHubMixin
from .detective_query import QueryMixin
from .detective_trail import CloudTrailMixin
from .errors import AwsError

GUARDDUTY = "guardduty.amazonaws.com"
SECURITYHUB = "securityhub.amazonaws.com"

STANDARDS = [
    ("standards/aws-foundational-security-best-practices/v/1.0.0",
     "AWS Foundational Security Best Practices v1.0.0", True),
    ("ruleset/cis-aws-foundations-benchmark/v/1.2.0", "CIS AWS Foundations Benchmark v1.2.0", True),
    ("standards/cis-aws-foundations-benchmark/v/1.4.0", "CIS AWS Foundations Benchmark v1.4.0", False),
    ("standards/cis-aws-foundations-benchmark/v/3.0.0", "CIS AWS Foundations Benchmark v3.0.0", False),
    ("standards/nist-800-53/v/5.0.0", "NIST Special Publication 800-53 Revision 5", False),
    ("standards/pci-dss/v/3.2.1", "PCI DSS v3.2.1", False),
    ("standards/aws-resource-tagging-standard/v/1.0.0", "AWS Resource Tagging Standard v1.0.0", False),
]


def _access_denied(message):
    return AwsError("AccessDeniedException", message, 403)


def _std_arn(path, region):
    # CIS 1.2.0 is the one global ruleset ARN; the others carry the region.
    if path.startswith("ruleset/"):
        return f"arn:aws:securityhub:::{path}"
    return f"arn:aws:securityhub:{region}::{path}"


class DetectiveServices(SecurityHubMixin, ConfigMixin, QueryMixin, CloudTrailMixin):
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.guardduty = {}  # region -> {"admin", "config", "config_time", "members": {account: member}}
        self.securityhub = {}  # region -> {"admin", "aggregator", "orgconfig", "policies", "associations"}
        self.standards = {}  # (account, region) -> {subscription arn: subscription}
        self._reset_hub()
        self._reset_config()
        self._reset_trail()

    def status(self):
        """GET /_lzemu/detective: the organization-level state, for tests and people."""
        org = self._org()
        out = {"guardduty": {}, "securityhub": {}, "config": {}}
        for region, state in sorted(self.guardduty.items()):
            out["guardduty"][region] = {"admin": state["admin"],
                                        "auto_enable": (state["config"] or {}).get("autoEnableOrganizationMembers")}
        for region, state in sorted(self.securityhub.items()):
            config = self._org_config(region) if state.get("orgconfig") else None
            out["securityhub"][region] = {
                "admin": state["admin"],
                "aggregator": self._aggregator_view(region, state["aggregator"]) if state.get("aggregator") else None,
                "configuration": {k: config[k] for k in ("ConfigurationType", "Status")} if config else None,
                "policies": sorted(p["Name"] for p in (state.get("policies") or {}).values()),
                "associations": {t: a["policy"] for t, a in (state.get("associations") or {}).items()},
            }
        for region, rules in sorted(self.config_rules.items()):
            out["config"][region] = {
                name: {"excluded": sorted(r["ExcludedAccounts"]),
                       "status": self._rule_status(org, r)[0] if org else None,
                       "member_rule": r["member_rule"]}
                for name, r in sorted(rules.items())}
        out["findings"] = len(self.hub_findings)
        out["evaluations"] = len(self.evaluations)
        trail = self._ct_trail()
        out["controltower_trail"] = dict(trail, IsLogging=self.ct_trail_logging) if trail else None
        return out

    def control(self, method, path, body):
        """/_lzemu/detective endpoints (see the README)."""
        if path == "/_lzemu/detective" and method == "GET":
            return self.status()
        if path == "/_lzemu/detective/findings" and method == "POST":
            ids = self.seed_findings(body.get("findings") or [])
            return {"seeded": len(ids), "ids": ids}
        if path == "/_lzemu/detective/findings" and method == "DELETE":
            self.hub_findings = []
            return {"cleared": True}
        if path == "/_lzemu/detective/compliance" and method == "POST":
            return {"seeded": self.seed_compliance(body.get("results") or [])}
        if path == "/_lzemu/detective/compliance" and method == "DELETE":
            self.evaluations = {}
            self.evaluations_seq += 1
            return {"cleared": True}
        raise KeyError(path)

    # ------------------------------------------------------------- helpers
    def _now(self):
        return self.emulator.clock.now()

    def _iso_now(self):
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._now()))

    def _org(self):
        return self.emulator.organizations.management_backend()

    def _management(self, ctx, service):
        org = self._org()
        if org is None:
            raise AwsError("BadRequestException" if service == "guardduty" else "InvalidAccessException",
                           "The account is not part of an organization.", 400 if service == "guardduty" else 401)
        if ctx.account != org.management_account:
            raise _access_denied(
                f"Account {ctx.account} is not the management account of the organization.")
        return org

    def _member(self, org, account_id):
        return self.emulator.organizations.find_account(org, account_id)

    def _delegate(self, org, account_id, principal, register):
        """Keep Organizations' delegated administrators in step, as AWS does."""
        if account_id == org.management_account:
            return
        services = next((s for a, s in org.delegated_admins() if a == account_id), None)
        if register:
            if services is None or principal not in services:
                org.register_delegated_admin(account_id, principal)
        elif services is not None and principal in services:
            org.deregister_delegated_admin(account_id, principal)

    @staticmethod
    def _query(ctx):
        return {k: v[0] for k, v in parse_qs(ctx.environ.get("QUERY_STRING", "")).items()}

    # ------------------------------------------------------------- handler
    def before(self, ctx):
        method = getattr(self, f"_{ctx.info.service}_{ctx.operation}", None)
        if method is None:
            return None
        result = method(ctx, ctx.params)
        return None if result is None else (200, result)

    def after(self, ctx, status, out):
        if ctx.info.service == "cloudtrail":
            return self.after_cloudtrail(ctx, status, out)
        return None

    # ------------------------------------------------------------ GuardDuty
    def _gd(self, region):
        return self.guardduty.setdefault(region, {"admin": None, "config": None,
                                                   "config_time": None, "members": {}})

    def _guardduty_EnableOrganizationAdminAccount(self, ctx, params):
        org = self._management(ctx, "guardduty")
        account = params.get("adminAccountId", "")
        if self._member(org, account) is None:
            raise AwsError("BadRequestException",
                           f"The request is rejected because {account} is not a member of the organization.", 400)
        state = self._gd(ctx.info.region)
        if state["admin"] not in (None, account):
            raise AwsError("BadRequestException",
                           "The request is rejected because an administrator account is already enabled.", 400)
        state["admin"] = account
        org.enable_service_access(GUARDDUTY)  # GuardDuty enables trusted access itself
        self._delegate(org, account, GUARDDUTY, True)
        return {}

    def _guardduty_DisableOrganizationAdminAccount(self, ctx, params):
        org = self._management(ctx, "guardduty")
        state = self._gd(ctx.info.region)
        account = params.get("adminAccountId", "")
        if state["admin"] != account:
            raise AwsError("BadRequestException",
                           f"The request is rejected because {account} is not the administrator account.", 400)
        self.guardduty[ctx.info.region] = {"admin": None, "config": None, "config_time": None, "members": {}}
        if not any(s["admin"] == account for s in self.guardduty.values()):
            self._delegate(org, account, GUARDDUTY, False)
        return {}

    def _guardduty_ListOrganizationAdminAccounts(self, ctx, params):
        self._management(ctx, "guardduty")
        admin = self._gd(ctx.info.region)["admin"]
        return {"adminAccounts": [{"adminAccountId": admin, "adminStatus": "ENABLED"}] if admin else []}

    def _guardduty_admin_with_detector(self, ctx):
        state = self._gd(ctx.info.region)
        if state["admin"] != ctx.account:
            raise _access_denied(
                f"Account {ctx.account} is not the GuardDuty delegated administrator in {ctx.info.region}.")
        detector_id = ctx.environ.get("PATH_INFO", "").split("/")[2]
        if not motoseam.guardduty_detector_exists(ctx.account, ctx.info.region, detector_id):
            raise AwsError("BadRequestException",
                           "The request is rejected because the input detectorId is not owned by the "
                           "current account.", 400)
        return state, detector_id

    def _guardduty_UpdateOrganizationConfiguration(self, ctx, params):
        state, _ = self._guardduty_admin_with_detector(ctx)
        auto_members = params.get("autoEnableOrganizationMembers")
        if auto_members is None and "autoEnable" in params:
            auto_members = "NEW" if params["autoEnable"] else "NONE"
        if auto_members not in (None, "NEW", "ALL", "NONE"):
            raise AwsError("BadRequestException", "Invalid autoEnableOrganizationMembers.", 400)
        config = state["config"] or {"autoEnableOrganizationMembers": "NONE", "features": [], "dataSources": {}}
        if auto_members:
            config["autoEnableOrganizationMembers"] = auto_members
        if "features" in params:
            features = {f["name"]: f for f in config["features"]}
            for feature in params["features"]:
                features[feature["name"]] = feature
            config["features"] = list(features.values())
        if "dataSources" in params:
            config["dataSources"] = params["dataSources"]
        state["config"] = config
        state["config_time"] = self._now()
        return {}

    def _guardduty_DescribeOrganizationConfiguration(self, ctx, params):
        state, _ = self._guardduty_admin_with_detector(ctx)
        config = state["config"] or {"autoEnableOrganizationMembers": "NONE", "features": [], "dataSources": {}}
        return {
            "autoEnable": config["autoEnableOrganizationMembers"] != "NONE",
            "autoEnableOrganizationMembers": config["autoEnableOrganizationMembers"],
            "memberAccountLimitReached": False,
            "features": config["features"],
            "dataSources": config["dataSources"],
        }

    def _guardduty_CreateMembers(self, ctx, params):
        state, detector_id = self._guardduty_admin_with_detector(ctx)
        org = self._org()
        unprocessed = []
        for detail in params.get("accountDetails") or []:
            account = detail.get("accountId")
            if account == ctx.account:
                unprocessed.append({"accountId": account,
                                    "result": "The request is rejected because the current account cannot be a member."})
                continue
            member = self._member(org, account)
            if member is None:
                unprocessed.append({"accountId": account,
                                    "result": "The request is rejected because the account is not in the organization."})
                continue
            state["members"][account] = {
                "accountId": account, "email": detail.get("email") or member.email,
                "masterId": ctx.account, "administratorId": ctx.account,
                "detectorId": detector_id, "relationshipStatus": "Enabled",
                "invitedAt": self._iso_now(),
                "updatedAt": self._iso_now(),
            }
        return {"unprocessedAccounts": unprocessed}

    def _guardduty_GetOrganizationStatistics(self, ctx, params):
        """Counts over the organization's active accounts, as the delegated
        administrator of this Region sees them (the administrator itself is
        not its own member)."""
        state = self._gd(ctx.info.region)
        if state["admin"] != ctx.account:
            raise _access_denied(
                f"Account {ctx.account} is not the GuardDuty delegated administrator in {ctx.info.region}.")
        detectors = motoseam.guardduty_detector_ids(ctx.account, ctx.info.region)
        org = self._org()
        active = [a for a in org.accounts() if a.state == "ACTIVE"]
        members = self._gd_members(ctx, state, detectors[0] if detectors else "")
        enabled = [m for m in members.values() if m["relationshipStatus"] == "Enabled"
                   and any(a.id == m["accountId"] for a in active)]
        config = state["config"] or {"features": []}
        by_feature = []
        for feature in config["features"]:
            mode = feature.get("autoEnable", "NONE")
            count = 0
            if mode == "ALL":
                count = len(enabled)
            elif mode == "NEW":
                joined = {a.id: a.joined for a in active}
                count = sum(1 for m in enabled if joined.get(m["accountId"], 0) >= (state["config_time"] or 0))
            by_feature.append({"name": feature["name"], "enabledAccountsCount": count})
        return {"organizationDetails": {
            "updatedAt": self._now(),
            "organizationStatistics": {
                "totalAccountsCount": len(active),
                "memberAccountsCount": len(members),
                "activeAccountsCount": len(enabled),
                "enabledAccountsCount": len(enabled),
                "countByFeature": by_feature,
            }}}

    def _gd_members(self, ctx, state, detector_id):
        """Members made with CreateMembers, plus the accounts auto-enable reaches."""
        members = dict(state["members"])
        mode = (state["config"] or {}).get("autoEnableOrganizationMembers", "NONE")
        org = self._org()
        if mode != "NONE" and org is not None:
            for account in org.accounts():
                if account.id in members or account.id == ctx.account or account.state != "ACTIVE":
                    continue
                joined = account.joined
                if mode == "ALL" or (mode == "NEW" and joined >= (state["config_time"] or 0)):
                    members[account.id] = {
                        "accountId": account.id, "email": account.email, "masterId": ctx.account,
                        "administratorId": ctx.account, "detectorId": detector_id,
                        "relationshipStatus": "Enabled",
                        "updatedAt": self._iso_now(),
                    }
        return members

    def _guardduty_ListMembers(self, ctx, params):
        state, detector_id = self._guardduty_admin_with_detector(ctx)
        members = self._gd_members(ctx, state, detector_id)
        only_associated = self._query(ctx).get("onlyAssociated", "true").lower() != "false"
        items = [m for m in members.values() if not only_associated or m["relationshipStatus"] == "Enabled"]
        return {"members": sorted(items, key=lambda m: m["accountId"])}

    # --------------------------------------------------------- Security Hub
    def _sh(self, region):
        return self.securityhub.setdefault(region, {"admin": None, "aggregator": None})

    def _securityhub_EnableOrganizationAdminAccount(self, ctx, params):
        org = self._management(ctx, "securityhub")
        account = params.get("AdminAccountId", "")
        if self._member(org, account) is None:
            raise AwsError("InvalidInputException", f"Account {account} is not a member of the organization.", 400)
        state = self._sh(ctx.info.region)
        if state["admin"] not in (None, account):
            raise AwsError("ResourceConflictException",
                           "An administrator account is already enabled for this Region.", 409)
        state["admin"] = account
        org.enable_service_access(SECURITYHUB)  # Security Hub enables trusted access itself
        self._delegate(org, account, SECURITYHUB, True)
        return {"AdminAccountId": account, "Feature": params.get("Feature") or "SecurityHub"}

    def _securityhub_DisableOrganizationAdminAccount(self, ctx, params):
        org = self._management(ctx, "securityhub")
        account = params.get("AdminAccountId", "")
        state = self._sh(ctx.info.region)
        if state["admin"] != account:
            raise AwsError("InvalidInputException", f"Account {account} is not the administrator account.", 400)
        state["admin"] = None
        if not any(s["admin"] == account for s in self.securityhub.values()):
            self._delegate(org, account, SECURITYHUB, False)
        return {}

    def _securityhub_ListOrganizationAdminAccounts(self, ctx, params):
        self._management(ctx, "securityhub")
        admin = self._sh(ctx.info.region)["admin"]
        return {"AdminAccounts": [{"AccountId": admin, "Status": "ENABLED"}] if admin else [],
                "Feature": "SecurityHub"}

    def _securityhub_DescribeStandards(self, ctx, params):
        region = ctx.info.region
        return {"Standards": [
            {"StandardsArn": _std_arn(path, region), "Name": name,
             "Description": f"{name} (emulated)", "EnabledByDefault": default,
             "StandardsManagedBy": {"Company": "AWS", "Product": "Security Hub"}}
            for path, name, default in STANDARDS]}

    def _hub_enabled(self, ctx):
        if not motoseam.securityhub_enabled(ctx.account, ctx.info.region):
            raise AwsError("InvalidAccessException",
                           f"Account {ctx.account} is not subscribed to AWS Security Hub", 401)

    def _subscription_arn(self, ctx, standards_arn):
        path = standards_arn.split("::", 1)[-1].split(":", 1)[-1]
        path = path.split("/", 1)[1] if "/" in path else path
        return f"arn:aws:securityhub:{ctx.info.region}:{ctx.account}:subscription/{path}"

    def _securityhub_BatchEnableStandards(self, ctx, params):
        self._hub_enabled(ctx)
        known = {_std_arn(path, ctx.info.region) for path, _, _ in STANDARDS}
        subs = self.standards.setdefault((ctx.account, ctx.info.region), {})
        out = []
        for request in params.get("StandardsSubscriptionRequests") or []:
            arn = request.get("StandardsArn")
            if arn not in known:
                raise AwsError("InvalidInputException", f"Invalid StandardsArn {arn}.", 400)
            sub_arn = self._subscription_arn(ctx, arn)
            subs[sub_arn] = {"StandardsSubscriptionArn": sub_arn, "StandardsArn": arn,
                             "StandardsInput": request.get("StandardsInput") or {},
                             "StandardsStatus": "READY"}
            out.append(dict(subs[sub_arn], StandardsStatus="PENDING"))
        return {"StandardsSubscriptions": out}

    def _securityhub_BatchDisableStandards(self, ctx, params):
        self._hub_enabled(ctx)
        subs = self.standards.setdefault((ctx.account, ctx.info.region), {})
        out = []
        for arn in params.get("StandardsSubscriptionArns") or []:
            sub = subs.pop(arn, None)
            if sub is None:
                raise AwsError("InvalidInputException", f"Subscription {arn} not found.", 400)
            out.append(dict(sub, StandardsStatus="DELETING"))
        return {"StandardsSubscriptions": out}

    def _securityhub_GetEnabledStandards(self, ctx, params):
        self._hub_enabled(ctx)
        subs = self.standards.get((ctx.account, ctx.info.region), {})
        wanted = params.get("StandardsSubscriptionArns")
        return {"StandardsSubscriptions": [s for a, s in subs.items() if not wanted or a in wanted]}

