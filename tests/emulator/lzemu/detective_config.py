"""AWS Config at organization level: organization rules deployed per member
account on the emulator clock (CREATE_/UPDATE_IN_PROGRESS, then _SUCCESSFUL,
or _FAILED for accounts named in the settings), configuration aggregators
(including the one Control Tower landing zone 4.0 runs when its manifest has
``config.enabled``), and aggregated compliance over seeded evaluation results.

A mixin of ``detective.DetectiveServices``: methods ``_config_<Operation>``.
Shapes follow the botocore model config 2014-11-12 (awsJson 1.1, epoch times).
"""

import json
import random
import string

from .errors import AwsError

MULTIACCOUNT = "config-multiaccountsetup.amazonaws.com"
CONFIG = "config.amazonaws.com"
MAX_EXCLUDED = 1000
CT_AGGREGATOR = "aws-controltower-ConfigAggregatorForOrganizations"
COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA")


def _suffix():
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _validation(message):
    return AwsError("ValidationException", message, 400)


class ConfigMixin:
    def _reset_config(self):
        self.config_rules = {}  # region -> {name: rule}
        self.aggregators = {}  # (account, region) -> {name: aggregator}
        self.evaluations = {}  # seeded evaluation results by key, in seeding order
        self.evaluations_seq = 0  # bumped at every change (keys the caches below)
        self._compliance_cache = {}

    def _config_settings(self):
        d = self.emulator.settings.get("detective", default={}) or {}
        return {"seconds": float(d.get("config_rule_seconds", 2)),
                "fail": dict(d.get("fail_config_rule_accounts") or {})}

    # ------------------------------------------------------------ access
    def _delegated_for(self, org, account, principal):
        services = next((s for a, s in org.delegated_admins() if a == account), None) or []
        return principal in services

    def _ct_config_account(self, ctx_region=None):
        """(account, home region) of the Config setup Control Tower runs
        (landing zone 4.0 and later with config.enabled), or (None, None)."""
        ct = self.emulator.controltower
        if ctx_region is not None:
            # The landing zone of the setting appears on the first call that
            # looks for it (the request holds the Control Tower lock).
            ct._ensure_landing_zone(ctx_region)
        lz = ct.landing_zone
        if not lz:
            return None, None
        from .controltower import version_tuple

        config = (lz.get("manifest") or {}).get("config") or {}
        if version_tuple(lz["version"]) < version_tuple("4.0") or not config.get("enabled"):
            return None, None
        return config.get("accountId"), ct.region

    def _config_access(self, ctx, principal=MULTIACCOUNT):
        org = self._org()
        if org is None:
            raise AwsError("NoAvailableOrganizationException", "Organization is not available.", 400)
        if ctx.account == org.management_account:
            return org
        if principal == CONFIG and self._ct_config_account(ctx.info.region)[0] == ctx.account:
            return org
        if not self._delegated_for(org, ctx.account, principal):
            raise AwsError("OrganizationAccessDeniedException",
                           "For this API you must be the management account or a registered delegated "
                           f"administrator for {principal}.", 400)
        return org

    def _rules(self, ctx):
        return self.config_rules.setdefault(ctx.info.region, {})

    # -------------------------------------------------------- rule status
    def _member_status(self, rule, account):
        """A member account's deployment status of an organization rule."""
        verb = "UPDATE" if rule["updated"] else "CREATE"
        if self._now() < rule["until"]:
            return f"{verb}_IN_PROGRESS", None
        fail = self._config_settings()["fail"]
        for key in (account.id, account.name):
            if key in fail:
                return f"{verb}_FAILED", fail[key]
        return f"{verb}_SUCCESSFUL", None

    def _members(self, org, rule):
        excluded = set(rule["ExcludedAccounts"])
        return [a for a in sorted(org.accounts(), key=lambda a: a.id)
                if a.state == "ACTIVE" and a.id not in excluded]

    def _rule_status(self, org, rule):
        statuses = [self._member_status(rule, a) for a in self._members(org, rule)]
        verb = "UPDATE" if rule["updated"] else "CREATE"
        for state in ("IN_PROGRESS", "FAILED"):
            hit = next((s for s in statuses if s[0].endswith(state)), None)
            if hit:
                return f"{verb}_{state}", hit[1]
        return f"{verb}_SUCCESSFUL", None

    def _in_progress(self, org, rule):
        return self._rule_status(org, rule)[0].endswith("IN_PROGRESS")

    # ----------------------------------------------------- organization rules
    def _config_PutOrganizationConfigRule(self, ctx, params):
        org = self._config_access(ctx)
        if MULTIACCOUNT not in org.trusted_services():
            raise AwsError("OrganizationAccessDeniedException",
                           f"Trusted access for {MULTIACCOUNT} is not enabled in the organization.", 400)
        name = params.get("OrganizationConfigRuleName") or ""
        if not name or len(name) > 64:
            raise _validation("OrganizationConfigRuleName must be 1-64 characters.")
        kinds = [k for k in ("OrganizationManagedRuleMetadata", "OrganizationCustomRuleMetadata",
                             "OrganizationCustomPolicyRuleMetadata") if params.get(k)]
        if len(kinds) != 1:
            raise _validation("Give exactly one kind of rule metadata.")
        meta = params[kinds[0]]
        if kinds[0] == "OrganizationManagedRuleMetadata" and not meta.get("RuleIdentifier"):
            raise _validation("RuleIdentifier is required.")
        if meta.get("InputParameters"):
            try:
                if not isinstance(json.loads(meta["InputParameters"]), dict):
                    raise ValueError
            except ValueError:
                raise AwsError("InvalidParameterValueException",
                               "InputParameters must be a JSON object.", 400)
        excluded = list(params.get("ExcludedAccounts") or [])
        if len(excluded) > MAX_EXCLUDED:
            raise _validation(f"ExcludedAccounts has {len(excluded)} accounts; the maximum is {MAX_EXCLUDED}.")
        rules = self._rules(ctx)
        existing = rules.get(name)
        if existing is not None and self._in_progress(org, existing):
            raise AwsError("ResourceInUseException",
                           f"The organization config rule {name} is being deployed; try again later.", 400)
        arn = existing["OrganizationConfigRuleArn"] if existing else (
            f"arn:aws:config:{ctx.info.region}:{ctx.account}:organization-config-rule/{name}-{_suffix()}")
        rule = {"OrganizationConfigRuleName": name, "OrganizationConfigRuleArn": arn,
                "ExcludedAccounts": excluded, "LastUpdateTime": self._now(), kinds[0]: meta,
                "updated": existing is not None,
                "member_rule": existing["member_rule"] if existing else f"OrgConfigRule-{name}-{_suffix()}",
                "until": self._now() + self._config_settings()["seconds"]}
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

    def _config_page(self, params, items, key, max_limit=100):
        try:
            limit = int(params.get("Limit") or max_limit)
            start = int(params.get("NextToken") or 0)
        except ValueError:
            raise AwsError("InvalidNextTokenException", "The NextToken is not valid.", 400)
        if limit > max_limit:
            raise AwsError("InvalidLimitException", f"Limit is at most {max_limit}.", 400)
        out = {key: items[start:start + limit]}
        if start + limit < len(items):
            out["NextToken"] = str(start + limit)
        return out

    def _config_DescribeOrganizationConfigRules(self, ctx, params):
        self._config_access(ctx)
        keys = ("OrganizationConfigRuleName", "OrganizationConfigRuleArn", "OrganizationManagedRuleMetadata",
                "OrganizationCustomRuleMetadata", "OrganizationCustomPolicyRuleMetadata",
                "ExcludedAccounts", "LastUpdateTime")
        items = [{k: r[k] for k in keys if k in r} for r in self._named_rules(ctx, params)]
        return self._config_page(params, items, "OrganizationConfigRules")

    def _config_DescribeOrganizationConfigRuleStatuses(self, ctx, params):
        org = self._config_access(ctx)
        items = []
        for r in self._named_rules(ctx, params):
            status, message = self._rule_status(org, r)
            item = {"OrganizationConfigRuleName": r["OrganizationConfigRuleName"],
                    "OrganizationRuleStatus": status, "LastUpdateTime": r["LastUpdateTime"]}
            if message:
                item.update(ErrorCode="MemberAccountFailed", ErrorMessage=message)
            items.append(item)
        return self._config_page(params, items, "OrganizationConfigRuleStatuses")

    def _config_GetOrganizationConfigRuleDetailedStatus(self, ctx, params):
        """Per member account deployment of the rule: every active account of the
        organization except the excluded ones."""
        org = self._config_access(ctx)
        rule = self._named_rules(ctx, {"OrganizationConfigRuleNames": [params.get("OrganizationConfigRuleName")]})[0]
        filters = params.get("Filters") or {}
        items = []
        for account in self._members(org, rule):
            status, message = self._member_status(rule, account)
            if filters.get("AccountId") and account.id != filters["AccountId"]:
                continue
            if filters.get("MemberAccountRuleStatus") and status != filters["MemberAccountRuleStatus"]:
                continue
            item = {"AccountId": account.id, "ConfigRuleName": rule["member_rule"],
                    "MemberAccountRuleStatus": status, "LastUpdateTime": rule["LastUpdateTime"]}
            if message:
                item.update(ErrorCode="MemberAccountFailed", ErrorMessage=message)
            items.append(item)
        return self._config_page(params, items, "OrganizationConfigRuleDetailedStatus")

    def _config_DeleteOrganizationConfigRule(self, ctx, params):
        org = self._config_access(ctx)
        name = params.get("OrganizationConfigRuleName")
        rules = self._rules(ctx)
        if name not in rules:
            raise AwsError("NoSuchOrganizationConfigRuleException",
                           f"The organization config rule {name} does not exist.", 400)
        if self._in_progress(org, rules[name]):
            raise AwsError("ResourceInUseException",
                           f"The organization config rule {name} is being deployed; try again later.", 400)
        del rules[name]
        return {}

    def _conformance_access(self, ctx, params):
        self._config_access(ctx)
        return None  # moto stores the pack

    _config_PutOrganizationConformancePack = _conformance_access
    _config_DescribeOrganizationConformancePacks = _conformance_access
    _config_DeleteOrganizationConformancePack = _conformance_access

    # ----------------------------------------------------------- aggregators
    def _account_aggregators(self, account, region):
        own = self.aggregators.setdefault((account, region), {})
        out = dict(own)
        ct_account, ct_region = self._ct_config_account(region)
        if ct_account == account and ct_region == region:
            out[CT_AGGREGATOR] = {
                "ConfigurationAggregatorName": CT_AGGREGATOR,
                "ConfigurationAggregatorArn": f"arn:aws:config:{region}:{account}:config-aggregator/"
                                              f"config-aggregator-controltower",
                "OrganizationAggregationSource": {
                    "RoleArn": f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/"
                               "AWSServiceRoleForConfig",
                    "AllAwsRegions": True},
                "CreationTime": 0, "LastUpdatedTime": 0, "CreatedBy": "controltower.amazonaws.com"}
        return out

    def _config_PutConfigurationAggregator(self, ctx, params):
        name = params.get("ConfigurationAggregatorName") or ""
        if not name:
            raise AwsError("InvalidParameterValueException", "ConfigurationAggregatorName is required.", 400)
        if name == CT_AGGREGATOR:
            raise AwsError("InvalidParameterValueException",
                           "This aggregator is managed by AWS Control Tower.", 400)
        source = params.get("OrganizationAggregationSource")
        if source is not None:
            self._config_access(ctx, CONFIG)
            if not source.get("RoleArn"):
                raise AwsError("InvalidParameterValueException", "RoleArn is required.", 400)
        elif not params.get("AccountAggregationSources"):
            raise AwsError("InvalidParameterValueException",
                           "Give OrganizationAggregationSource or AccountAggregationSources.", 400)
        own = self.aggregators.setdefault((ctx.account, ctx.info.region), {})
        created = own.get(name, {}).get("CreationTime", self._now())
        agg = {"ConfigurationAggregatorName": name,
               "ConfigurationAggregatorArn": f"arn:aws:config:{ctx.info.region}:{ctx.account}:"
                                             f"config-aggregator/config-aggregator-{_suffix()}",
               "CreationTime": created, "LastUpdatedTime": self._now()}
        if name in own:
            agg["ConfigurationAggregatorArn"] = own[name]["ConfigurationAggregatorArn"]
        for key in ("OrganizationAggregationSource", "AccountAggregationSources", "AggregatorFilters"):
            if params.get(key):
                agg[key] = params[key]
        own[name] = agg
        return {"ConfigurationAggregator": agg}

    def _config_DescribeConfigurationAggregators(self, ctx, params):
        found = self._account_aggregators(ctx.account, ctx.info.region)
        names = params.get("ConfigurationAggregatorNames") or []
        for n in names:
            if n not in found:
                raise AwsError("NoSuchConfigurationAggregatorException",
                               f"The configuration aggregator {n} does not exist.", 400)
        items = [found[n] for n in (names or sorted(found))]
        return self._config_page(params, items, "ConfigurationAggregators", max_limit=10)

    def _config_DeleteConfigurationAggregator(self, ctx, params):
        name = params.get("ConfigurationAggregatorName")
        own = self.aggregators.setdefault((ctx.account, ctx.info.region), {})
        if name not in own:
            raise AwsError("NoSuchConfigurationAggregatorException",
                           f"The configuration aggregator {name} does not exist.", 400)
        del own[name]
        return {}

    def _aggregator(self, ctx, name):
        found = self._account_aggregators(ctx.account, ctx.info.region)
        if name not in found:
            raise AwsError("NoSuchConfigurationAggregatorException",
                           f"The configuration aggregator {name} does not exist.", 400)
        return found[name]

    def _aggregated(self, ctx, agg):
        """Evaluations the aggregator sees: its source accounts and regions."""
        org = self._org()
        if agg.get("OrganizationAggregationSource"):
            src = agg["OrganizationAggregationSource"]
            accounts = {a.id for a in org.accounts()} if org else set()
            regions = None if src.get("AllAwsRegions") else set(src.get("AwsRegions") or [])
        else:
            accounts, regions = set(), set()
            for src in agg.get("AccountAggregationSources") or []:
                accounts |= set(src.get("AccountIds") or [])
                if src.get("AllAwsRegions"):
                    regions = None
                elif regions is not None:
                    regions |= set(src.get("AwsRegions") or [])
        cache_key = ("aggregated", agg.get("ConfigurationAggregatorArn"), self.evaluations_seq,
                     len(accounts), None if regions is None else tuple(sorted(regions)))
        if cache_key not in self._compliance_cache:
            self._compliance_cache = {k: v for k, v in self._compliance_cache.items()
                                      if k[2] == self.evaluations_seq}
            self._compliance_cache[cache_key] = [
                e for e in self.evaluations.values()
                if e["AccountId"] in accounts and (regions is None or e["AwsRegion"] in regions)]
        return self._compliance_cache[cache_key]

    # ----------------------------------------------------------- compliance
    def member_rule_name(self, rule, region):
        """The name an organization rule has in member accounts (as seeded
        results and the aggregator report it); other names are kept as given."""
        org_rule = self.config_rules.get(region, {}).get(rule)
        return org_rule["member_rule"] if org_rule else rule

    def seed_compliance(self, results):
        """Control endpoint: evaluation results, each {rule, account, region,
        resource_id, resource_type?, compliance, annotation?, recorded_at?}."""
        for r in results:
            for key in ("rule", "account", "region", "resource_id", "compliance"):
                if not r.get(key):
                    raise ValueError(f"a compliance result needs {key}")
            if r["compliance"] not in COMPLIANCE_TYPES:
                raise ValueError(f"compliance is one of {', '.join(COMPLIANCE_TYPES)}")
            name = self.member_rule_name(r["rule"], r["region"])
            resource_type = r.get("resource_type") or "AWS::::Account"
            key = (name, str(r["account"]), r["region"], resource_type, r["resource_id"])
            self.evaluations.pop(key, None)
            when = r.get("recorded_at") or self._now()
            self.evaluations[key] = ({
                "key": key, "ConfigRuleName": name, "AccountId": str(r["account"]), "AwsRegion": r["region"],
                "ResourceType": resource_type, "ResourceId": r["resource_id"],
                "ComplianceType": r["compliance"], "Annotation": r.get("annotation"), "time": when})
        self.evaluations_seq += 1
        return len(results)

    def _config_DescribeAggregateComplianceByConfigRules(self, ctx, params):
        agg = self._aggregator(ctx, params.get("ConfigurationAggregatorName"))
        filters = params.get("Filters") or {}
        seen = self._aggregated(ctx, agg)
        cache_key = ("groups", agg.get("ConfigurationAggregatorArn"), self.evaluations_seq, id(seen))
        if cache_key not in self._compliance_cache:
            groups = {}
            for e in seen:
                groups.setdefault((e["ConfigRuleName"], e["AccountId"], e["AwsRegion"]), []).append(e)
            self._compliance_cache[cache_key] = sorted(groups.items())
        items = []
        for (rule, account, region), evals in self._compliance_cache[cache_key]:
            noncompliant = sum(1 for e in evals if e["ComplianceType"] == "NON_COMPLIANT")
            if noncompliant:
                compliance = "NON_COMPLIANT"
            elif any(e["ComplianceType"] == "COMPLIANT" for e in evals):
                compliance = "COMPLIANT"
            elif any(e["ComplianceType"] == "INSUFFICIENT_DATA" for e in evals):
                compliance = "INSUFFICIENT_DATA"
            else:
                compliance = "NOT_APPLICABLE"
            if filters.get("ConfigRuleName") and filters["ConfigRuleName"] != rule:
                continue
            if filters.get("AccountId") and filters["AccountId"] != account:
                continue
            if filters.get("AwsRegion") and filters["AwsRegion"] != region:
                continue
            if filters.get("ComplianceType") and filters["ComplianceType"] != compliance:
                continue
            item = {"ConfigRuleName": rule, "Compliance": {"ComplianceType": compliance},
                    "AccountId": account, "AwsRegion": region}
            if compliance == "NON_COMPLIANT":
                item["Compliance"]["ComplianceContributorCount"] = {
                    "CappedCount": min(noncompliant, 100), "CapExceeded": noncompliant > 100}
            items.append(item)
        return self._config_page(params, items, "AggregateComplianceByConfigRules", max_limit=1000)

    def _config_GetAggregateComplianceDetailsByConfigRule(self, ctx, params):
        agg = self._aggregator(ctx, params.get("ConfigurationAggregatorName"))
        for key in ("ConfigRuleName", "AccountId", "AwsRegion"):
            if not params.get(key):
                raise _validation(f"{key} is required.")
        items = []
        for e in sorted(self._aggregated(ctx, agg), key=lambda e: e["key"]):
            if (e["ConfigRuleName"], e["AccountId"], e["AwsRegion"]) != (
                    params["ConfigRuleName"], params["AccountId"], params["AwsRegion"]):
                continue
            if params.get("ComplianceType") and e["ComplianceType"] != params["ComplianceType"]:
                continue
            item = {"EvaluationResultIdentifier": {
                        "EvaluationResultQualifier": {"ConfigRuleName": e["ConfigRuleName"],
                                                      "ResourceType": e["ResourceType"],
                                                      "ResourceId": e["ResourceId"],
                                                      "EvaluationMode": "DETECTIVE"},
                        "OrderingTimestamp": e["time"]},
                    "ComplianceType": e["ComplianceType"], "ResultRecordedTime": e["time"],
                    "ConfigRuleInvokedTime": e["time"], "AccountId": e["AccountId"],
                    "AwsRegion": e["AwsRegion"]}
            if e["Annotation"]:
                item["Annotation"] = e["Annotation"]
            items.append(item)
        return self._config_page(params, items, "AggregateEvaluationResults")

    def _config_GetAggregateConfigRuleComplianceSummary(self, ctx, params):
        agg = self._aggregator(ctx, params.get("ConfigurationAggregatorName"))
        filters = params.get("Filters") or {}
        group_by = params.get("GroupByKey")
        groups = {}
        for e in self._aggregated(ctx, agg):
            if filters.get("AccountId") and e["AccountId"] != filters["AccountId"]:
                continue
            if filters.get("AwsRegion") and e["AwsRegion"] != filters["AwsRegion"]:
                continue
            key = {"ACCOUNT_ID": e["AccountId"], "AWS_REGION": e["AwsRegion"]}.get(group_by, "")
            groups.setdefault(key, {}).setdefault(e["ConfigRuleName"], []).append(e["ComplianceType"])
        counts = []
        for name, rules in sorted(groups.items()):
            noncompliant = sum(1 for v in rules.values() if "NON_COMPLIANT" in v)
            compliant = sum(1 for v in rules.values() if "NON_COMPLIANT" not in v and "COMPLIANT" in v)
            entry = {"ComplianceSummary": {
                "CompliantResourceCount": {"CappedCount": compliant, "CapExceeded": False},
                "NonCompliantResourceCount": {"CappedCount": noncompliant, "CapExceeded": False},
                "ComplianceSummaryTimestamp": self._now()}}
            if group_by:
                entry["GroupName"] = name
            counts.append(entry)
        out = self._config_page(params, counts, "AggregateComplianceCounts", max_limit=1000)
        if group_by:
            out["GroupByKey"] = group_by
        return out
