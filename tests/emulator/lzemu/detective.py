"""Detective services at organization level (issue 3 §4), the parts moto lacks.

GuardDuty: Enable/Disable/ListOrganizationAdminAccounts, Update/Describe-
OrganizationConfiguration, CreateMembers, ListMembers.
Security Hub: Enable/Disable/ListOrganizationAdminAccounts, DescribeStandards,
BatchEnableStandards, BatchDisableStandards, GetEnabledStandards.
Config: Put/Describe/Delete OrganizationConfigRule(s), their (per-account) statuses, and access
checks for organization conformance packs (which moto stores).

State is per region (and per account where AWS keeps it per account). Calls from
the wrong account are refused: management-only calls from anyone else, admin-only
calls from anyone but the region's delegated administrator.
Detectors, hubs and everything else stay with moto.
"""

import random
import string
import time
from urllib.parse import parse_qs

from . import motoseam
from .errors import AwsError

GUARDDUTY = "guardduty.amazonaws.com"
SECURITYHUB = "securityhub.amazonaws.com"
CONFIG_PRINCIPALS = ("config.amazonaws.com", "config-multiaccountsetup.amazonaws.com")

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


class DetectiveServices:
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.guardduty = {}  # region -> {"admin", "config", "config_time", "members": {account: member}}
        self.securityhub = {}  # region -> {"admin"}
        self.standards = {}  # (account, region) -> {subscription arn: subscription}
        self.config_rules = {}  # region -> {name: rule}

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
        pass

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

    def _guardduty_ListMembers(self, ctx, params):
        state, detector_id = self._guardduty_admin_with_detector(ctx)
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
        only_associated = self._query(ctx).get("onlyAssociated", "true").lower() != "false"
        items = [m for m in members.values() if not only_associated or m["relationshipStatus"] == "Enabled"]
        return {"members": sorted(items, key=lambda m: m["accountId"])}

    # --------------------------------------------------------- Security Hub
    def _sh(self, region):
        return self.securityhub.setdefault(region, {"admin": None})

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

    # --------------------------------------------------------------- Config
    def _config_access(self, ctx):
        org = self._org()
        if org is None:
            raise AwsError("NoAvailableOrganizationException",
                           "Organization is not available.", 400)
        if ctx.account == org.management_account:
            return org
        services = next((s for a, s in org.delegated_admins() if a == ctx.account), None)
        if services is None or not any(p in services for p in CONFIG_PRINCIPALS):
            raise AwsError("OrganizationAccessDeniedException",
                           "For PutOrganizationConfigRule/ConformancePack API, you must be the management "
                           "account or a registered delegated administrator for config.", 400)
        return org

    def _rules(self, ctx):
        return self.config_rules.setdefault(ctx.info.region, {})

    def _config_PutOrganizationConfigRule(self, ctx, params):
        self._config_access(ctx)
        name = params.get("OrganizationConfigRuleName")
        if not name:
            raise AwsError("ValidationException", "OrganizationConfigRuleName is required.", 400)
        if not (params.get("OrganizationManagedRuleMetadata") or params.get("OrganizationCustomRuleMetadata")
                or params.get("OrganizationCustomPolicyRuleMetadata")):
            raise AwsError("ValidationException", "Rule metadata is required.", 400)
        rules = self._rules(ctx)
        arn = rules.get(name, {}).get("OrganizationConfigRuleArn") or (
            f"arn:aws:config:{ctx.info.region}:{ctx.account}:organization-config-rule/"
            f"{name}-{''.join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))}")
        rule = {"OrganizationConfigRuleName": name, "OrganizationConfigRuleArn": arn,
                "ExcludedAccounts": params.get("ExcludedAccounts") or [], "LastUpdateTime": self._now()}
        for key in ("OrganizationManagedRuleMetadata", "OrganizationCustomRuleMetadata",
                    "OrganizationCustomPolicyRuleMetadata"):
            if params.get(key):
                rule[key] = params[key]
        if name in rules:
            rule["updated"] = True
        rules[name] = rule
        return {"OrganizationConfigRuleArn": arn}

    def _named_rules(self, ctx, params):
        rules = self._rules(ctx)
        names = params.get("OrganizationConfigRuleNames") or []
        missing = [n for n in names if n not in rules]
        if missing:
            raise AwsError("NoSuchOrganizationConfigRuleException",
                           f"The organization config rule {missing[0]} does not exist.", 400)
        return [rules[n] for n in (names or sorted(rules))]

    def _config_DescribeOrganizationConfigRules(self, ctx, params):
        self._config_access(ctx)
        return {"OrganizationConfigRules": [{k: v for k, v in r.items() if k != "updated"}
                                            for r in self._named_rules(ctx, params)]}

    def _config_DescribeOrganizationConfigRuleStatuses(self, ctx, params):
        self._config_access(ctx)
        return {"OrganizationConfigRuleStatuses": [
            {"OrganizationConfigRuleName": r["OrganizationConfigRuleName"],
             "OrganizationRuleStatus": "CREATE_SUCCESSFUL", "LastUpdateTime": r["LastUpdateTime"]}
            for r in self._named_rules(ctx, params)]}

    def _config_GetOrganizationConfigRuleDetailedStatus(self, ctx, params):
        """Per member account deployment of the rule: every active account of the
        organization except the excluded ones (and the caller's own)."""
        org = self._config_access(ctx)
        rule = self._named_rules(ctx, {"OrganizationConfigRuleNames": [params.get("OrganizationConfigRuleName")]})[0]
        filters = params.get("Filters") or {}
        excluded = set(rule.get("ExcludedAccounts") or [])
        status = "UPDATE_SUCCESSFUL" if rule.get("updated") else "CREATE_SUCCESSFUL"
        items = []
        for account in sorted(org.accounts(), key=lambda a: a.id):
            if account.state != "ACTIVE" or account.id in excluded:
                continue
            if filters.get("AccountId") and account.id != filters["AccountId"]:
                continue
            if filters.get("MemberAccountRuleStatus") and status != filters["MemberAccountRuleStatus"]:
                continue
            items.append({"AccountId": account.id, "ConfigRuleName": rule["OrganizationConfigRuleName"],
                          "MemberAccountRuleStatus": status, "LastUpdateTime": rule["LastUpdateTime"]})
        return {"OrganizationConfigRuleDetailedStatus": items}

    def _config_DeleteOrganizationConfigRule(self, ctx, params):
        self._config_access(ctx)
        name = params.get("OrganizationConfigRuleName")
        if self._rules(ctx).pop(name, None) is None:
            raise AwsError("NoSuchOrganizationConfigRuleException",
                           f"The organization config rule {name} does not exist.", 400)
        return {}

    def _conformance_access(self, ctx, params):
        self._config_access(ctx)
        return None  # moto stores the pack

    _config_PutOrganizationConformancePack = _conformance_access
    _config_DescribeOrganizationConformancePacks = _conformance_access
    _config_DeleteOrganizationConformancePack = _conformance_access
