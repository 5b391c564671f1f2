"""Security Hub (CSPM) at organization level: finding aggregator, central
configuration (PENDING -> ENABLED on the emulator clock), configuration
policies and their associations (root, OU, account; the nearest applied one
wins, PENDING -> SUCCESS or FAILED per account), and GetFindings over seeded
findings (the aggregation region sees every linked region).

A mixin of ``detective.DetectiveServices``: methods ``_securityhub_<Operation>``.
Shapes follow the botocore model securityhub 2018-10-26 (timestamps ISO 8601).
"""

import json
import time
import uuid

from .errors import AwsError

SELF_MANAGED = "SELF_MANAGED_SECURITY_HUB"
LINKING_MODES = ("ALL_REGIONS", "ALL_REGIONS_EXCEPT_SPECIFIED", "SPECIFIED_REGIONS", "NO_REGIONS")
FINDING_FILTER_FIELDS = {
    # filter name -> function(finding) -> value
    "AwsAccountId": lambda f: f["AwsAccountId"],
    "Region": lambda f: f["Region"],
    "Id": lambda f: f["Id"],
    "GeneratorId": lambda f: f["GeneratorId"],
    "ProductName": lambda f: f.get("ProductName"),
    "SeverityLabel": lambda f: f["Severity"]["Label"],
    "ComplianceSecurityControlId": lambda f: (f.get("Compliance") or {}).get("SecurityControlId"),
    "ComplianceStatus": lambda f: (f.get("Compliance") or {}).get("Status"),
    "WorkflowStatus": lambda f: f["Workflow"]["Status"],
    "RecordState": lambda f: f["RecordState"],
    "ResourceId": lambda f: f["Resources"][0]["Id"],
    "ResourceType": lambda f: f["Resources"][0]["Type"],
    "Title": lambda f: f["Title"],
}
SEVERITY_NORMALIZED = {"INFORMATIONAL": 0, "LOW": 1, "MEDIUM": 40, "HIGH": 70, "CRITICAL": 90}


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _parse_iso(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _invalid(message):
    return AwsError("InvalidInputException", message, 400)


class SecurityHubMixin:
    # ------------------------------------------------------------ state
    def _reset_hub(self):
        self.hub_findings = []  # seeded findings (dicts in the GetFindings shape)

    def _hub_settings(self):
        d = self.emulator.settings.get("detective", default={}) or {}
        return {
            "central": float(d.get("central_configuration_seconds", 2)),
            "association": float(d.get("association_seconds", 1)),
            "fail": dict(d.get("fail_associations") or {}),
        }

    def _hub_admin(self, ctx):
        """The caller must be the region's Security Hub delegated administrator."""
        state = self._sh(ctx.info.region)
        if state["admin"] != ctx.account:
            raise AwsError("AccessDeniedException",
                           f"Account {ctx.account} is not the Security Hub delegated administrator "
                           f"in {ctx.info.region}.", 403)
        self._hub_enabled(ctx)
        return state

    def _aggregator_of(self, account):
        """(region, aggregator) of an account's finding aggregator, or (None, None)."""
        for region, state in self.securityhub.items():
            agg = state.get("aggregator")
            if agg and agg["account"] == account:
                return region, agg
        return None, None

    def _linked_regions(self, aggregator_region, aggregator):
        if aggregator is None:
            return []
        mode, regions = aggregator["RegionLinkingMode"], aggregator.get("Regions") or []
        governed = self._known_regions()
        if mode == "ALL_REGIONS":
            linked = governed
        elif mode == "ALL_REGIONS_EXCEPT_SPECIFIED":
            linked = [r for r in governed if r not in regions]
        elif mode == "SPECIFIED_REGIONS":
            linked = regions
        else:
            linked = []
        return sorted({aggregator_region, *linked})

    def _known_regions(self):
        from botocore.session import Session

        return Session().get_available_regions("securityhub")

    # ------------------------------------------------------- aggregator
    def _securityhub_CreateFindingAggregator(self, ctx, params):
        self._hub_admin(ctx)
        region, existing = self._aggregator_of(ctx.account)
        if existing is not None:
            raise AwsError("LimitExceededException",
                           f"A finding aggregator already exists in {region}.", 429)
        agg = self._check_aggregator(ctx, params)
        agg["account"] = ctx.account
        agg["FindingAggregatorArn"] = (f"arn:aws:securityhub:{ctx.info.region}:{ctx.account}:"
                                       f"finding-aggregator/{uuid.uuid4()}")
        self._sh(ctx.info.region)["aggregator"] = agg
        return self._aggregator_view(ctx.info.region, agg)

    def _check_aggregator(self, ctx, params):
        mode = params.get("RegionLinkingMode")
        if mode not in LINKING_MODES:
            raise _invalid(f"RegionLinkingMode must be one of {', '.join(LINKING_MODES)}.")
        regions = params.get("Regions") or []
        if mode in ("ALL_REGIONS_EXCEPT_SPECIFIED", "SPECIFIED_REGIONS") and not regions:
            raise _invalid(f"Regions are required with RegionLinkingMode {mode}.")
        if mode in ("ALL_REGIONS", "NO_REGIONS") and regions:
            raise _invalid(f"Regions must be empty with RegionLinkingMode {mode}.")
        if ctx.info.region in regions:
            raise _invalid("Regions must not include the aggregation Region.")
        return {"RegionLinkingMode": mode, "Regions": list(regions)}

    @staticmethod
    def _aggregator_view(region, agg):
        out = {"FindingAggregatorArn": agg["FindingAggregatorArn"], "FindingAggregationRegion": region,
               "RegionLinkingMode": agg["RegionLinkingMode"]}
        if agg["Regions"]:
            out["Regions"] = list(agg["Regions"])
        return out

    def _named_aggregator(self, ctx, arn):
        region, agg = self._aggregator_of(ctx.account)
        if agg is None or agg["FindingAggregatorArn"] != arn:
            raise AwsError("ResourceNotFoundException", f"Finding aggregator {arn} not found.", 404)
        return region, agg

    def _securityhub_ListFindingAggregators(self, ctx, params):
        self._hub_enabled(ctx)
        _, agg = self._aggregator_of(ctx.account)
        return {"FindingAggregators": [{"FindingAggregatorArn": agg["FindingAggregatorArn"]}] if agg else []}

    def _securityhub_GetFindingAggregator(self, ctx, params):
        self._hub_enabled(ctx)
        arn = ctx.environ.get("PATH_INFO", "").split("/findingAggregator/get/", 1)[-1]
        from urllib.parse import unquote

        region, agg = self._named_aggregator(ctx, unquote(arn))
        return self._aggregator_view(region, agg)

    def _securityhub_UpdateFindingAggregator(self, ctx, params):
        self._hub_admin(ctx)
        region, agg = self._named_aggregator(ctx, params.get("FindingAggregatorArn"))
        if region != ctx.info.region:
            raise _invalid(f"Update the finding aggregator from its aggregation Region {region}.")
        agg.update(self._check_aggregator(ctx, params))
        return self._aggregator_view(region, agg)

    def _securityhub_DeleteFindingAggregator(self, ctx, params):
        self._hub_admin(ctx)
        arn = ctx.environ.get("PATH_INFO", "").split("/findingAggregator/delete/", 1)[-1]
        from urllib.parse import unquote

        region, _ = self._named_aggregator(ctx, unquote(arn))
        if (self._sh(region).get("orgconfig") or {}).get("ConfigurationType") == "CENTRAL":
            raise AwsError("ResourceConflictException",
                           "Central configuration uses this finding aggregator; switch to LOCAL first.", 409)
        self._sh(region)["aggregator"] = None
        return {}

    # ------------------------------------------- organization configuration
    def _org_config(self, region):
        state = self._sh(region)
        config = state.get("orgconfig")
        if config is None:
            config = {"AutoEnable": False, "AutoEnableStandards": "DEFAULT", "ConfigurationType": "LOCAL",
                      "Status": "ENABLED", "until": 0, "StatusMessage": None}
            state["orgconfig"] = config
        if config["Status"] == "PENDING" and self._now() >= config["until"]:
            config["Status"] = "ENABLED"
        return config

    def _securityhub_DescribeOrganizationConfiguration(self, ctx, params):
        self._hub_admin(ctx)
        config = self._org_config(ctx.info.region)
        org_config = {"ConfigurationType": config["ConfigurationType"], "Status": config["Status"]}
        if config["StatusMessage"]:
            org_config["StatusMessage"] = config["StatusMessage"]
        return {"AutoEnable": config["AutoEnable"], "MemberAccountLimitReached": False,
                "AutoEnableStandards": config["AutoEnableStandards"],
                "OrganizationConfiguration": org_config}

    def _securityhub_UpdateOrganizationConfiguration(self, ctx, params):
        self._hub_admin(ctx)
        if "AutoEnable" not in params:
            raise _invalid("AutoEnable is required.")
        config = self._org_config(ctx.info.region)
        wanted = (params.get("OrganizationConfiguration") or {}).get("ConfigurationType") or config["ConfigurationType"]
        if wanted not in ("CENTRAL", "LOCAL"):
            raise _invalid("ConfigurationType must be CENTRAL or LOCAL.")
        if wanted == "CENTRAL":
            region, agg = self._aggregator_of(ctx.account)
            if agg is None or region != ctx.info.region:
                raise _invalid("Central configuration requires a finding aggregator in this Region "
                               "(the home Region); create one first.")
            if params.get("AutoEnable") or params.get("AutoEnableStandards", "NONE") != "NONE":
                raise _invalid("With central configuration, AutoEnable must be false and "
                               "AutoEnableStandards NONE.")
        if config["Status"] == "PENDING":
            raise AwsError("ResourceConflictException",
                           "The organization configuration is being updated; try again later.", 409)
        changed = wanted != config["ConfigurationType"]
        config.update(AutoEnable=bool(params["AutoEnable"]),
                      AutoEnableStandards=params.get("AutoEnableStandards") or config["AutoEnableStandards"],
                      ConfigurationType=wanted, StatusMessage=None)
        if changed:
            config["Status"] = "PENDING"
            config["until"] = self._now() + self._hub_settings()["central"]
            if wanted == "LOCAL":
                self._sh(ctx.info.region)["associations"] = {}
        return {}

    def _central(self, ctx):
        """The caller is the admin in its home Region with central configuration ENABLED."""
        state = self._hub_admin(ctx)
        config = self._org_config(ctx.info.region)
        if config["ConfigurationType"] != "CENTRAL" or config["Status"] != "ENABLED":
            raise AwsError("AccessDeniedException",
                           "Central configuration is not enabled in this Region "
                           f"(it is {config['ConfigurationType']} {config['Status']}).", 403)
        state.setdefault("policies", {})
        state.setdefault("associations", {})
        return state

    # ---------------------------------------------------------- policies
    def _check_policy(self, ctx, policy):
        hub = (policy or {}).get("SecurityHub")
        if not isinstance(hub, dict) or "ServiceEnabled" not in hub:
            raise _invalid("ConfigurationPolicy.SecurityHub.ServiceEnabled is required.")
        if not hub["ServiceEnabled"]:
            return {"SecurityHub": {"ServiceEnabled": False}}
        standards = hub.get("EnabledStandardIdentifiers")
        if standards is None:
            raise _invalid("EnabledStandardIdentifiers is required when ServiceEnabled is true.")
        known = {s["StandardsArn"] for s in self._securityhub_DescribeStandards(ctx, {})["Standards"]}
        for arn in standards:
            if arn not in known:
                raise _invalid(f"Invalid standard identifier {arn}.")
        controls = hub.get("SecurityControlsConfiguration")
        if not isinstance(controls, dict):
            raise _invalid("SecurityControlsConfiguration is required when ServiceEnabled is true.")
        lists = [k for k in ("EnabledSecurityControlIdentifiers", "DisabledSecurityControlIdentifiers")
                 if k in controls]
        if len(lists) != 1:
            raise _invalid("Give exactly one of EnabledSecurityControlIdentifiers and "
                           "DisabledSecurityControlIdentifiers.")
        return {"SecurityHub": {"ServiceEnabled": True, "EnabledStandardIdentifiers": list(standards),
                                "SecurityControlsConfiguration": json.loads(json.dumps(controls))}}

    @staticmethod
    def _policy_view(policy):
        out = {k: policy[k] for k in ("Arn", "Id", "Name", "ConfigurationPolicy")}
        out["UpdatedAt"] = _iso(policy["UpdatedAt"])
        out["CreatedAt"] = _iso(policy["CreatedAt"])
        if policy.get("Description"):
            out["Description"] = policy["Description"]
        return out

    def _find_policy(self, state, identifier):
        for policy in state["policies"].values():
            if identifier in (policy["Id"], policy["Arn"]):
                return policy
        raise AwsError("ResourceNotFoundException", f"Configuration policy {identifier} not found.", 404)

    def _securityhub_CreateConfigurationPolicy(self, ctx, params):
        state = self._central(ctx)
        name = params.get("Name") or ""
        if not name:
            raise _invalid("Name is required.")
        if any(p["Name"] == name for p in state["policies"].values()):
            raise AwsError("ResourceConflictException", f"A configuration policy named {name} exists.", 409)
        pid = str(uuid.uuid4())
        now = self._now()
        policy = {"Id": pid, "Arn": f"arn:aws:securityhub:{ctx.info.region}:{ctx.account}:configuration-policy/{pid}",
                  "Name": name, "Description": params.get("Description") or "", "CreatedAt": now,
                  "UpdatedAt": now, "ConfigurationPolicy": self._check_policy(ctx, params.get("ConfigurationPolicy"))}
        state["policies"][pid] = policy
        return self._policy_view(policy)

    def _securityhub_GetConfigurationPolicy(self, ctx, params):
        state = self._central(ctx)
        identifier = ctx.environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
        from urllib.parse import unquote

        return self._policy_view(self._find_policy(state, unquote(identifier)))

    def _securityhub_ListConfigurationPolicies(self, ctx, params):
        state = self._central(ctx)
        items = [{"Arn": p["Arn"], "Id": p["Id"], "Name": p["Name"], "UpdatedAt": _iso(p["UpdatedAt"]),
                  "ServiceEnabled": p["ConfigurationPolicy"]["SecurityHub"]["ServiceEnabled"],
                  **({"Description": p["Description"]} if p["Description"] else {})}
                 for p in sorted(state["policies"].values(), key=lambda p: p["Name"])]
        return self._page(ctx, items, "ConfigurationPolicySummaries", query=True)

    def _securityhub_UpdateConfigurationPolicy(self, ctx, params):
        state = self._central(ctx)
        identifier = ctx.environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
        from urllib.parse import unquote

        policy = self._find_policy(state, unquote(identifier))
        if params.get("Name"):
            if any(p["Name"] == params["Name"] and p is not policy for p in state["policies"].values()):
                raise AwsError("ResourceConflictException", f"A configuration policy named {params['Name']} exists.", 409)
            policy["Name"] = params["Name"]
        if "Description" in params:
            policy["Description"] = params["Description"] or ""
        if "ConfigurationPolicy" in params:
            policy["ConfigurationPolicy"] = self._check_policy(ctx, params["ConfigurationPolicy"])
            # Every association of the policy is deployed again.
            for assoc in state["associations"].values():
                if assoc["policy"] == policy["Id"]:
                    self._restart_association(assoc)
        policy["UpdatedAt"] = self._now()
        return self._policy_view(policy)

    def _securityhub_DeleteConfigurationPolicy(self, ctx, params):
        state = self._central(ctx)
        identifier = ctx.environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
        from urllib.parse import unquote

        policy = self._find_policy(state, unquote(identifier))
        if any(a["policy"] == policy["Id"] for a in state["associations"].values()):
            raise AwsError("ResourceConflictException",
                           "Disassociate the configuration policy from every target before deleting it.", 409)
        del state["policies"][policy["Id"]]
        return {}

    # ------------------------------------------------------ associations
    def _restart_association(self, assoc):
        assoc["updated"] = self._now()
        assoc["until"] = self._now() + self._hub_settings()["association"]

    def _target_of(self, org, target):
        target = target or {}
        given = [(k, v) for k, v in target.items() if v]
        if len(given) != 1:
            raise _invalid("Target takes exactly one of AccountId, OrganizationalUnitId and RootId.")
        kind, value = given[0]
        if kind == "RootId":
            if value != org.root_id:
                raise AwsError("ResourceNotFoundException", f"Root {value} not found.", 404)
            return value, "ROOT"
        if kind == "OrganizationalUnitId":
            ou = org.find_ou(value)
            if ou is None or ou.is_root:
                raise AwsError("ResourceNotFoundException", f"Organizational unit {value} not found.", 404)
            return value, "ORGANIZATIONAL_UNIT"
        if kind == "AccountId":
            if org.find_account(value) is None:
                raise AwsError("ResourceNotFoundException", f"Account {value} not found.", 404)
            return value, "ACCOUNT"
        raise _invalid(f"Unknown target key {kind}.")

    def _securityhub_StartConfigurationPolicyAssociation(self, ctx, params):
        state = self._central(ctx)
        org = self._org()
        target_id, target_type = self._target_of(org, params.get("Target"))
        identifier = params.get("ConfigurationPolicyIdentifier") or ""
        policy_id = SELF_MANAGED if identifier == SELF_MANAGED else self._find_policy(state, identifier)["Id"]
        assoc = {"policy": policy_id, "type": target_type}
        self._restart_association(assoc)
        state["associations"][target_id] = assoc
        return self._association_view(ctx.info.region, org, target_id)

    def _securityhub_StartConfigurationPolicyDisassociation(self, ctx, params):
        state = self._central(ctx)
        org = self._org()
        target_id, _ = self._target_of(org, params.get("Target"))
        identifier = params.get("ConfigurationPolicyIdentifier") or ""
        assoc = state["associations"].get(target_id)
        policy_id = SELF_MANAGED if identifier == SELF_MANAGED else self._find_policy(state, identifier)["Id"]
        if assoc is None or assoc["policy"] != policy_id:
            raise _invalid(f"The configuration policy is not associated with {target_id}.")
        del state["associations"][target_id]
        return {}

    def _chain(self, org, target_id):
        """Target and its ancestors up to the root (ids)."""
        chain = [target_id]
        node = org.find_account(target_id) or org.find_ou(target_id)
        while node is not None and getattr(node, "parent_id", None):
            chain.append(node.parent_id)
            node = org.find_ou(node.parent_id)
        return chain

    def _effective(self, region, org, target_id):
        """(source target, association) that applies to a target, or (None, None)."""
        associations = self._sh(region).get("associations") or {}
        for node in self._chain(org, target_id):
            if node in associations:
                return node, associations[node]
        return None, None

    def _association_status(self, org, target_id, target_type, assoc):
        now = self._now()
        if now < assoc["until"]:
            return "PENDING", None
        if target_type == "ACCOUNT":
            fail = self._hub_settings()["fail"]
            account = org.find_account(target_id)
            for key in (target_id, account.name if account else None):
                if key and key in fail:
                    return "FAILED", fail[key]
        return "SUCCESS", None

    def _association_view(self, region, org, target_id):
        source, assoc = self._effective(region, org, target_id)
        if assoc is None:
            return None
        node = org.find_account(target_id)
        target_type = "ACCOUNT" if node is not None else (
            "ROOT" if target_id == org.root_id else "ORGANIZATIONAL_UNIT")
        status, message = self._association_status(org, target_id, target_type, assoc)
        out = {"ConfigurationPolicyId": assoc["policy"], "TargetId": target_id, "TargetType": target_type,
               "AssociationType": "APPLIED" if source == target_id else "INHERITED",
               "UpdatedAt": _iso(assoc["updated"]), "AssociationStatus": status}
        if message:
            out["AssociationStatusMessage"] = message
        return out

    def _all_targets(self, org):
        targets = [org.root_id]
        targets += sorted(o.id for o in org.ous() if not o.is_root)
        targets += sorted(a.id for a in org.accounts() if a.state == "ACTIVE")
        return targets

    def _securityhub_ListConfigurationPolicyAssociations(self, ctx, params):
        self._central(ctx)
        org = self._org()
        filters = params.get("Filters") or {}
        items = []
        for target in self._all_targets(org):
            view = self._association_view(ctx.info.region, org, target)
            if view is None:
                continue
            if filters.get("ConfigurationPolicyId") and view["ConfigurationPolicyId"] != filters["ConfigurationPolicyId"]:
                continue
            if filters.get("AssociationType") and view["AssociationType"] != filters["AssociationType"]:
                continue
            if filters.get("AssociationStatus") and view["AssociationStatus"] != filters["AssociationStatus"]:
                continue
            items.append(view)
        return self._page(ctx, items, "ConfigurationPolicyAssociationSummaries")

    def _securityhub_GetConfigurationPolicyAssociation(self, ctx, params):
        self._central(ctx)
        org = self._org()
        target_id, _ = self._target_of(org, params.get("Target"))
        view = self._association_view(ctx.info.region, org, target_id)
        if view is None:
            raise AwsError("ResourceNotFoundException", f"No configuration policy applies to {target_id}.", 404)
        return view

    def _page(self, ctx, items, key, query=False, default_limit=100):
        source = self._query(ctx) if query else ctx.params
        try:
            limit = int(source.get("MaxResults") or default_limit)
            start = int(source.get("NextToken") or 0)
        except ValueError:
            raise _invalid("Invalid NextToken or MaxResults.")
        out = {key: items[start:start + limit]}
        if start + limit < len(items):
            out["NextToken"] = str(start + limit)
        return out

    # ----------------------------------------------------------- findings
    def seed_findings(self, findings):
        """Control endpoint: add findings. Each is
        {account, region, severity, control_id?, resource_id, resource_type?, title?,
         workflow_status?, record_state?, compliance_status?, updated_at?, product?, id?}."""
        out = []
        for f in findings:
            for key in ("account", "region", "severity", "resource_id"):
                if not f.get(key):
                    raise ValueError(f"a finding needs {key}")
            severity = str(f["severity"]).upper()
            if severity not in SEVERITY_NORMALIZED:
                raise ValueError(f"severity is one of {', '.join(SEVERITY_NORMALIZED)}")
            updated = f.get("updated_at")
            updated = _parse_iso(updated) if isinstance(updated, str) else (updated or self._now())
            product = f.get("product") or "Security Hub"
            control = f.get("control_id")
            region, account = f["region"], str(f["account"])
            fid = f.get("id") or (f"arn:aws:securityhub:{region}:{account}:security-control/"
                                  f"{control or 'finding'}/finding/{uuid.uuid4()}")
            finding = {
                "SchemaVersion": "2018-10-08", "Id": fid,
                "ProductArn": f"arn:aws:securityhub:{region}::product/aws/"
                              f"{'securityhub' if product == 'Security Hub' else product.lower()}",
                "ProductName": product, "CompanyName": "AWS", "Region": region,
                "GeneratorId": f"security-control/{control}" if control else f"lzemu/{product}",
                "AwsAccountId": account, "Types": list(f.get("types") or
                                                      ["Software and Configuration Checks/Industry and Regulatory Standards"]),
                "CreatedAt": _iso(f.get("created_at") or updated), "UpdatedAt": _iso(updated),
                "FirstObservedAt": _iso(f.get("created_at") or updated), "LastObservedAt": _iso(updated),
                "Severity": {"Label": severity, "Normalized": SEVERITY_NORMALIZED[severity], "Original": severity},
                "Title": f.get("title") or (f"{control} finding" if control else "Finding"),
                "Description": f.get("description") or f.get("title") or "Seeded by lzemu",
                "Resources": [{"Type": f.get("resource_type") or "Other", "Id": f["resource_id"],
                               "Partition": "aws", "Region": region}],
                "Workflow": {"Status": f.get("workflow_status") or "NEW"},
                "WorkflowState": f.get("workflow_status") or "NEW",
                "RecordState": f.get("record_state") or "ACTIVE",
            }
            if control:
                finding["Compliance"] = {"Status": f.get("compliance_status") or "FAILED",
                                         "SecurityControlId": control}
            self.hub_findings = [x for x in self.hub_findings if x["Id"] != fid]
            self.hub_findings.append(finding)
            out.append(fid)
        return out

    @staticmethod
    def _matches(value, conditions):
        """String filters: EQUALS / PREFIX / CONTAINS are ORed, NOT_* are ANDed."""
        positive, negative = [], []
        for c in conditions:
            comp, want = c.get("Comparison", "EQUALS"), c.get("Value")
            v = "" if value is None else str(value)
            if comp == "EQUALS":
                positive.append(v == want)
            elif comp == "PREFIX":
                positive.append(v.startswith(want))
            elif comp in ("CONTAINS", "CONTAINS_WORD"):
                positive.append(want in v)
            elif comp == "NOT_EQUALS":
                negative.append(v != want)
            elif comp == "PREFIX_NOT_EQUALS":
                negative.append(not v.startswith(want))
            elif comp == "NOT_CONTAINS":
                negative.append(want not in v)
            else:
                raise _invalid(f"Unsupported comparison {comp}.")
        return (not positive or any(positive)) and all(negative)

    def _visible_findings(self, ctx):
        """What the caller sees from this Region: its own account here, or as
        administrator every account; in the aggregation Region every linked Region."""
        region = ctx.info.region
        admin = self._sh(region)["admin"] == ctx.account
        agg_region, agg = self._aggregator_of(ctx.account)
        regions = self._linked_regions(agg_region, agg) if agg_region == region else [region]
        return [f for f in self.hub_findings
                if f["Region"] in regions and (admin or f["AwsAccountId"] == ctx.account)]

    def _securityhub_GetFindings(self, ctx, params):
        self._hub_enabled(ctx)
        filters = params.get("Filters") or {}
        found = self._visible_findings(ctx)
        for name, conditions in filters.items():
            if name == "UpdatedAt":
                for c in conditions:
                    start = _parse_iso(c["Start"]) if c.get("Start") else None
                    end = _parse_iso(c["End"]) if c.get("End") else None
                    if c.get("DateRange"):
                        unit = {"DAYS": 86400}.get(c["DateRange"].get("Unit", "DAYS"), 86400)
                        start, end = self._now() - c["DateRange"]["Value"] * unit, self._now()
                    found = [f for f in found if (start is None or _parse_iso(f["UpdatedAt"]) >= start)
                             and (end is None or _parse_iso(f["UpdatedAt"]) <= end)]
                continue
            getter = FINDING_FILTER_FIELDS.get(name)
            if getter is None:
                raise _invalid(f"lzemu does not emulate the finding filter {name}.")
            found = [f for f in found if self._matches(getter(f), conditions)]
        found.sort(key=lambda f: (f["UpdatedAt"], f["Id"]), reverse=True)
        limit = int(params.get("MaxResults") or 100)
        if limit > 100:
            raise _invalid("MaxResults is at most 100.")
        return self._page(ctx, found, "Findings", default_limit=limit)
