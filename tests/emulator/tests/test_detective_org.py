"""Organization-wide detective services as lzctl drives them: GuardDuty
statistics, Security Hub aggregator / central configuration / policies /
associations / findings, Config organization rules deployed per member, the
Config aggregator over seeded compliance, Control Tower's trail."""

import botocore.exceptions
import pytest

HOME = "ap-northeast-1"
OTHER = "ap-northeast-3"
FSBP = f"arn:aws:securityhub:{HOME}::standards/aws-foundational-security-best-practices/v/1.0.0"
CIS3 = f"arn:aws:securityhub:{HOME}::standards/cis-aws-foundations-benchmark/v/3.0.0"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]


def advance(emu, seconds):
    emu.post("/_lzemu/clock", {"advance": seconds})


@pytest.fixture
def tree(emu, org):
    """Root > Security (audit, log-archive), Workloads > prod (p1), dev (d1)."""
    orgs, root = org
    ous = {"Security": orgs.create_organizational_unit(ParentId=root, Name="Security")["OrganizationalUnit"]["Id"]}
    ous["Workloads"] = orgs.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    for env in ("prod", "dev"):
        ous[env] = orgs.create_organizational_unit(ParentId=ous["Workloads"], Name=env)["OrganizationalUnit"]["Id"]
    ids = {}
    for name, ou in (("audit", "Security"), ("log-archive", "Security"), ("p1", "prod"), ("d1", "dev")):
        ids[name] = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=ous[ou])
    return orgs, root, ous, ids


def test_guardduty_statistics_and_trusted_access(emu, tree):
    orgs, root, ous, ids = tree
    emu.client("guardduty", region=HOME).enable_organization_admin_account(AdminAccountId=ids["audit"])
    enabled = {s["ServicePrincipal"] for s in orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]}
    assert "guardduty.amazonaws.com" in enabled  # GuardDuty enables trusted access itself
    audit = emu.client("guardduty", account=ids["audit"], region=HOME)
    # the statistics need the administrator
    assert error_of(emu.client("guardduty", region=HOME).get_organization_statistics)["Code"] == "AccessDeniedException"
    detector = audit.create_detector(Enable=True)["DetectorId"]
    stats = audit.get_organization_statistics()["OrganizationDetails"]["OrganizationStatistics"]
    assert (stats["TotalAccountsCount"], stats["EnabledAccountsCount"]) == (5, 0)
    audit.update_organization_configuration(DetectorId=detector, AutoEnableOrganizationMembers="ALL",
                                            Features=[{"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"},
                                                      {"Name": "RUNTIME_MONITORING", "AutoEnable": "NONE"}])
    stats = audit.get_organization_statistics()["OrganizationDetails"]["OrganizationStatistics"]
    # every account but the administrator itself is an enabled member
    assert (stats["TotalAccountsCount"], stats["MemberAccountsCount"], stats["EnabledAccountsCount"]) == (5, 4, 4)
    assert {f["Name"]: f["EnabledAccountsCount"] for f in stats["CountByFeature"]} == \
        {"S3_DATA_EVENTS": 4, "RUNTIME_MONITORING": 0}
    # a later account is a member at once with ALL
    new = orgs.create_account(Email="n@example.com", AccountName="n")["CreateAccountStatus"]["AccountId"]
    stats = audit.get_organization_statistics()["OrganizationDetails"]["OrganizationStatistics"]
    assert stats["EnabledAccountsCount"] == 5 and new
    # the other Region has its own delegation
    assert emu.client("guardduty", region=OTHER).list_organization_admin_accounts()["AdminAccounts"] == []


def central_hub(emu, ids):
    """Delegated admin in HOME with a hub and an aggregator over OTHER."""
    emu.client("securityhub", region=HOME).enable_organization_admin_account(AdminAccountId=ids["audit"])
    hub = emu.client("securityhub", account=ids["audit"], region=HOME)
    hub.enable_security_hub(EnableDefaultStandards=False)
    hub.create_finding_aggregator(RegionLinkingMode="SPECIFIED_REGIONS", Regions=[OTHER])
    return hub


def test_security_hub_aggregator_and_central_configuration(emu, tree):
    orgs, root, ous, ids = tree
    mgmt = emu.client("securityhub", region=HOME)
    mgmt.enable_organization_admin_account(AdminAccountId=ids["audit"])
    hub = emu.client("securityhub", account=ids["audit"], region=HOME)
    # the administrator needs its own hub
    assert error_of(hub.create_finding_aggregator, RegionLinkingMode="ALL_REGIONS")["Code"] == "InvalidAccessException"
    hub.enable_security_hub(EnableDefaultStandards=False)
    # central configuration needs an aggregator in this Region
    assert error_of(hub.update_organization_configuration, AutoEnable=False, AutoEnableStandards="NONE",
                    OrganizationConfiguration={"ConfigurationType": "CENTRAL"})["Code"] == "InvalidInputException"
    assert error_of(hub.create_finding_aggregator, RegionLinkingMode="SPECIFIED_REGIONS",
                    Regions=[HOME])["Code"] == "InvalidInputException"
    created = hub.create_finding_aggregator(RegionLinkingMode="SPECIFIED_REGIONS", Regions=[OTHER])
    assert created["FindingAggregationRegion"] == HOME and created["Regions"] == [OTHER]
    arn = created["FindingAggregatorArn"]
    assert [a["FindingAggregatorArn"] for a in hub.list_finding_aggregators()["FindingAggregators"]] == [arn]
    assert hub.get_finding_aggregator(FindingAggregatorArn=arn)["RegionLinkingMode"] == "SPECIFIED_REGIONS"
    assert error_of(hub.create_finding_aggregator, RegionLinkingMode="ALL_REGIONS")["Code"] == "LimitExceededException"
    # only the administrator reads or changes the organization configuration
    member = emu.client("securityhub", account=ids["p1"], region=HOME)
    member.enable_security_hub()
    assert error_of(member.describe_organization_configuration)["Code"] == "AccessDeniedException"
    assert error_of(hub.update_organization_configuration, AutoEnable=True,
                    OrganizationConfiguration={"ConfigurationType": "CENTRAL"})["Code"] == "InvalidInputException"
    hub.update_organization_configuration(AutoEnable=False, AutoEnableStandards="NONE",
                                          OrganizationConfiguration={"ConfigurationType": "CENTRAL"})
    conf = hub.describe_organization_configuration()["OrganizationConfiguration"]
    assert conf == {"ConfigurationType": "CENTRAL", "Status": "PENDING"}
    # no policies until central configuration is ENABLED
    assert error_of(hub.list_configuration_policies)["Code"] == "AccessDeniedException"
    advance(emu, 3)
    assert hub.describe_organization_configuration()["OrganizationConfiguration"]["Status"] == "ENABLED"
    assert hub.list_configuration_policies()["ConfigurationPolicySummaries"] == []


def test_configuration_policies_and_associations(emu, tree):
    orgs, root, ous, ids = tree
    emu.post("/_lzemu/settings", {"detective": {"central_configuration_seconds": 0, "association_seconds": 5,
                                                 "fail_associations": {"d1": "Security Hub could not be enabled"}}})
    hub = central_hub(emu, ids)
    hub.update_organization_configuration(AutoEnable=False, AutoEnableStandards="NONE",
                                          OrganizationConfiguration={"ConfigurationType": "CENTRAL"})

    def policy(standards, disabled=()):
        return {"SecurityHub": {"ServiceEnabled": True, "EnabledStandardIdentifiers": standards,
                                "SecurityControlsConfiguration": {"DisabledSecurityControlIdentifiers": list(disabled)}}}

    assert error_of(hub.create_configuration_policy, Name="bad",
                    ConfigurationPolicy=policy(["arn:aws:securityhub:::nope"]))["Code"] == "InvalidInputException"
    baseline = hub.create_configuration_policy(Name="baseline", ConfigurationPolicy=policy([FSBP]))
    production = hub.create_configuration_policy(Name="production", Description="prod",
                                                 ConfigurationPolicy=policy([FSBP, CIS3], ["IAM.6"]))
    assert error_of(hub.create_configuration_policy, Name="baseline",
                    ConfigurationPolicy=policy([FSBP]))["Code"] == "ResourceConflictException"
    assert hub.get_configuration_policy(Identifier=production["Id"])["ConfigurationPolicy"]["SecurityHub"][
        "SecurityControlsConfiguration"] == {"DisabledSecurityControlIdentifiers": ["IAM.6"]}
    assert [p["Name"] for p in hub.list_configuration_policies()["ConfigurationPolicySummaries"]] == ["baseline", "production"]

    started = hub.start_configuration_policy_association(ConfigurationPolicyIdentifier=baseline["Arn"],
                                                         Target={"RootId": root})
    assert (started["AssociationType"], started["AssociationStatus"], started["TargetType"]) == ("APPLIED", "PENDING", "ROOT")
    hub.start_configuration_policy_association(ConfigurationPolicyIdentifier=production["Id"],
                                               Target={"OrganizationalUnitId": ous["prod"]})
    # the OU's association overrides the root's for accounts beneath it
    p1 = hub.get_configuration_policy_association(Target={"AccountId": ids["p1"]})
    assert (p1["ConfigurationPolicyId"], p1["AssociationType"], p1["AssociationStatus"]) == (production["Id"], "INHERITED", "PENDING")
    d1 = hub.get_configuration_policy_association(Target={"AccountId": ids["d1"]})
    assert d1["ConfigurationPolicyId"] == baseline["Id"]
    applied = hub.list_configuration_policy_associations(Filters={"AssociationType": "APPLIED"})[
        "ConfigurationPolicyAssociationSummaries"]
    assert {(a["TargetId"], a["ConfigurationPolicyId"]) for a in applied} == {(root, baseline["Id"]), (ous["prod"], production["Id"])}
    advance(emu, 6)
    failed = hub.list_configuration_policy_associations(Filters={"AssociationStatus": "FAILED"})[
        "ConfigurationPolicyAssociationSummaries"]
    assert [(f["TargetId"], f["AssociationStatusMessage"]) for f in failed] == [(ids["d1"], "Security Hub could not be enabled")]
    assert hub.get_configuration_policy_association(Target={"AccountId": ids["p1"]})["AssociationStatus"] == "SUCCESS"
    # paginated listing of every target: root, 4 OUs, 5 accounts
    page = hub.list_configuration_policy_associations(MaxResults=4)
    rest = hub.list_configuration_policy_associations(NextToken=page["NextToken"])
    assert len(page["ConfigurationPolicyAssociationSummaries"]) + len(rest["ConfigurationPolicyAssociationSummaries"]) == 10
    # an associated policy cannot be deleted; disassociate first
    assert error_of(hub.delete_configuration_policy, Identifier=production["Id"])["Code"] == "ResourceConflictException"
    hub.start_configuration_policy_disassociation(ConfigurationPolicyIdentifier=production["Id"],
                                                  Target={"OrganizationalUnitId": ous["prod"]})
    assert hub.get_configuration_policy_association(Target={"AccountId": ids["p1"]})["ConfigurationPolicyId"] == baseline["Id"]
    hub.delete_configuration_policy(Identifier=production["Id"])
    # the management account is not the administrator
    assert error_of(emu.client("securityhub", region=HOME).list_configuration_policies)["Code"] in (
        "AccessDeniedException", "InvalidAccessException")


def test_findings_from_the_aggregation_region(emu, tree):
    orgs, root, ous, ids = tree
    hub = central_hub(emu, ids)
    seeded = emu.post("/_lzemu/detective/findings", {"findings": [
        {"account": ids["p1"], "region": HOME, "severity": "CRITICAL", "control_id": "S3.2",
         "resource_type": "AwsS3Bucket", "resource_id": "arn:aws:s3:::p1-bucket", "updated_at": "2026-01-02T00:00:00Z"},
        {"account": ids["d1"], "region": OTHER, "severity": "MEDIUM", "control_id": "RDS.5",
         "resource_id": "arn:aws:rds:ap-northeast-3:1:db:x", "workflow_status": "SUPPRESSED"},
        {"account": ids["d1"], "region": "eu-west-1", "severity": "HIGH", "control_id": "EC2.2", "resource_id": "sg-1"},
    ]})
    assert seeded["seeded"] == 3
    found = hub.get_findings()["Findings"]
    # the aggregation Region sees its linked Regions, not the unlinked one
    assert sorted((f["AwsAccountId"], f["Region"]) for f in found) == sorted([(ids["p1"], HOME), (ids["d1"], OTHER)])
    crit = hub.get_findings(Filters={"SeverityLabel": [{"Value": "CRITICAL", "Comparison": "EQUALS"}]})["Findings"]
    assert [(f["Compliance"]["SecurityControlId"], f["Resources"][0]["Id"], f["UpdatedAt"]) for f in crit] == \
        [("S3.2", "arn:aws:s3:::p1-bucket", "2026-01-02T00:00:00.000Z")]
    active = hub.get_findings(Filters={"WorkflowStatus": [{"Value": "SUPPRESSED", "Comparison": "NOT_EQUALS"}]})["Findings"]
    assert [f["AwsAccountId"] for f in active] == [ids["p1"]]
    # another Region of the administrator sees that Region only
    other = emu.client("securityhub", account=ids["audit"], region=OTHER)
    other.enable_security_hub()
    emu.client("securityhub", region=OTHER).enable_organization_admin_account(AdminAccountId=ids["audit"])
    assert [f["Region"] for f in other.get_findings()["Findings"]] == [OTHER]
    # a member sees its own findings only
    member = emu.client("securityhub", account=ids["d1"], region=OTHER)
    member.enable_security_hub()
    assert [f["AwsAccountId"] for f in member.get_findings()["Findings"]] == [ids["d1"]]
    assert emu.client("securityhub", account=ids["p1"], region=OTHER).meta  # no hub: refused below
    assert error_of(emu.client("securityhub", account=ids["p1"], region=OTHER).get_findings)["Code"] == "InvalidAccessException"


def delegate_config(emu, orgs, ids):
    for principal in ("config-multiaccountsetup.amazonaws.com", "config.amazonaws.com"):
        orgs.enable_aws_service_access(ServicePrincipal=principal)
        orgs.register_delegated_administrator(AccountId=ids["audit"], ServicePrincipal=principal)
    return emu.client("config", account=ids["audit"], region=HOME)


def test_config_rule_deployment_per_member(emu, tree):
    orgs, root, ous, ids = tree
    emu.post("/_lzemu/settings", {"detective": {"config_rule_seconds": 10,
                                                 "fail_config_rule_accounts": {"d1": "recorder is off"}}})
    audit = emu.client("config", account=ids["audit"], region=HOME)
    orgs.register_delegated_administrator(AccountId=ids["audit"], ServicePrincipal="config-multiaccountsetup.amazonaws.com")
    rule = {"OrganizationConfigRuleName": "rds-multi-az",
            "OrganizationManagedRuleMetadata": {"RuleIdentifier": "RDS_MULTI_AZ_SUPPORT"},
            "ExcludedAccounts": [ids["d1"]]}
    # trusted access for config-multiaccountsetup is needed
    assert error_of(audit.put_organization_config_rule, **rule)["Code"] == "OrganizationAccessDeniedException"
    orgs.enable_aws_service_access(ServicePrincipal="config-multiaccountsetup.amazonaws.com")
    assert error_of(audit.put_organization_config_rule, **dict(rule, ExcludedAccounts=[f"{n:012d}" for n in range(1001)]))[
        "Code"] == "ValidationException"
    assert error_of(audit.put_organization_config_rule, **dict(rule, OrganizationManagedRuleMetadata={
        "RuleIdentifier": "RDS_MULTI_AZ_SUPPORT", "InputParameters": "[1]"}))["Code"] == "InvalidParameterValueException"
    audit.put_organization_config_rule(**rule)
    status = audit.describe_organization_config_rule_statuses()["OrganizationConfigRuleStatuses"][0]
    assert status["OrganizationRuleStatus"] == "CREATE_IN_PROGRESS"
    # a rule being deployed cannot be changed
    assert error_of(audit.put_organization_config_rule, **rule)["Code"] == "ResourceInUseException"
    advance(emu, 11)
    detailed = audit.get_organization_config_rule_detailed_status(OrganizationConfigRuleName="rds-multi-az")[
        "OrganizationConfigRuleDetailedStatus"]
    assert ids["d1"] not in {d["AccountId"] for d in detailed}
    assert {d["MemberAccountRuleStatus"] for d in detailed} == {"CREATE_SUCCESSFUL"}
    # include d1 again: its deployment fails, and the rule says so
    audit.put_organization_config_rule(**dict(rule, ExcludedAccounts=[]))
    advance(emu, 11)
    status = audit.describe_organization_config_rule_statuses()["OrganizationConfigRuleStatuses"][0]
    assert (status["OrganizationRuleStatus"], status["ErrorMessage"]) == ("UPDATE_FAILED", "recorder is off")
    failed = audit.get_organization_config_rule_detailed_status(
        OrganizationConfigRuleName="rds-multi-az", Filters={"MemberAccountRuleStatus": "UPDATE_FAILED"})
    assert [d["AccountId"] for d in failed["OrganizationConfigRuleDetailedStatus"]] == [ids["d1"]]
    assert audit.describe_organization_config_rules()["OrganizationConfigRules"][0]["ExcludedAccounts"] == []
    view = emu.get("/_lzemu/detective")["config"][HOME]["rds-multi-az"]
    assert view["status"] == "UPDATE_FAILED" and view["member_rule"].startswith("OrgConfigRule-rds-multi-az-")


def test_config_aggregator_and_seeded_compliance(emu, tree):
    orgs, root, ous, ids = tree
    emu.post("/_lzemu/settings", {"detective": {"config_rule_seconds": 0}})
    audit = delegate_config(emu, orgs, ids)
    audit.put_organization_config_rule(OrganizationConfigRuleName="s3-public-read",
                                       OrganizationManagedRuleMetadata={"RuleIdentifier": "S3_BUCKET_PUBLIC_READ_PROHIBITED"})
    member_rule = audit.get_organization_config_rule_detailed_status(OrganizationConfigRuleName="s3-public-read")[
        "OrganizationConfigRuleDetailedStatus"][0]["ConfigRuleName"]
    # a member cannot make an organization aggregator
    assert error_of(emu.client("config", account=ids["p1"], region=HOME).put_configuration_aggregator,
                    ConfigurationAggregatorName="org", OrganizationAggregationSource={
                        "RoleArn": "arn:aws:iam::1:role/r", "AllAwsRegions": True})["Code"] == "OrganizationAccessDeniedException"
    audit.put_configuration_aggregator(ConfigurationAggregatorName="org", OrganizationAggregationSource={
        "RoleArn": f"arn:aws:iam::{ids['audit']}:role/aggregator", "AwsRegions": [HOME, OTHER]})
    emu.post("/_lzemu/detective/compliance", {"results": [
        {"rule": "s3-public-read", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": "p1-bucket", "compliance": "NON_COMPLIANT", "annotation": "public"},
        {"rule": "s3-public-read", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": "p1-logs", "compliance": "COMPLIANT"},
        {"rule": "s3-public-read", "account": ids["d1"], "region": OTHER, "resource_type": "AWS::S3::Bucket",
         "resource_id": "d1-bucket", "compliance": "COMPLIANT"},
        {"rule": "s3-public-read", "account": ids["d1"], "region": "eu-west-1", "resource_type": "AWS::S3::Bucket",
         "resource_id": "outside", "compliance": "NON_COMPLIANT"},
    ]})
    by_rule = audit.describe_aggregate_compliance_by_config_rules(ConfigurationAggregatorName="org")[
        "AggregateComplianceByConfigRules"]
    assert sorted((r["ConfigRuleName"], r["AccountId"], r["AwsRegion"], r["Compliance"]["ComplianceType"]) for r in by_rule) == \
        sorted([(member_rule, ids["p1"], HOME, "NON_COMPLIANT"),
                # no organization rule of that name in OTHER: the name is kept as seeded
                ("s3-public-read", ids["d1"], OTHER, "COMPLIANT")])
    noncompliant = [r for r in by_rule if r["Compliance"]["ComplianceType"] == "NON_COMPLIANT"][0]
    assert noncompliant["Compliance"]["ComplianceContributorCount"] == {"CappedCount": 1, "CapExceeded": False}
    details = audit.get_aggregate_compliance_details_by_config_rule(
        ConfigurationAggregatorName="org", ConfigRuleName=member_rule, AccountId=ids["p1"], AwsRegion=HOME,
        ComplianceType="NON_COMPLIANT")["AggregateEvaluationResults"]
    assert [(d["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"], d["Annotation"]) for d in details] == \
        [("p1-bucket", "public")]
    summary = audit.get_aggregate_config_rule_compliance_summary(ConfigurationAggregatorName="org", GroupByKey="ACCOUNT_ID")
    assert {c["GroupName"]: c["ComplianceSummary"]["NonCompliantResourceCount"]["CappedCount"]
            for c in summary["AggregateComplianceCounts"]} == {ids["p1"]: 1, ids["d1"]: 0}
    assert error_of(audit.describe_aggregate_compliance_by_config_rules,
                    ConfigurationAggregatorName="nope")["Code"] == "NoSuchConfigurationAggregatorException"


def test_control_tower_4_config_aggregator_and_trail(emu, tree):
    orgs, root, ous, ids = tree
    lz = emu.post("/_lzemu/controltower/landing-zone", {"version": "4.0", "manifest": {
        "config": {"enabled": True, "accountId": ids["audit"]},
        "centralizedLogging": {"enabled": True, "accountId": ids["log-archive"]}}})
    HOME = lz["arn"].split(":")[3]  # Control Tower's home Region  # noqa: N806
    OTHER = "ap-northeast-3" if HOME != "ap-northeast-3" else "ap-northeast-1"  # noqa: N806
    audit = emu.client("config", account=ids["audit"], region=HOME)
    aggs = audit.describe_configuration_aggregators()["ConfigurationAggregators"]
    assert [(a["ConfigurationAggregatorName"], a["CreatedBy"]) for a in aggs] == \
        [("aws-controltower-ConfigAggregatorForOrganizations", "controltower.amazonaws.com")]
    assert audit.describe_aggregate_compliance_by_config_rules(
        ConfigurationAggregatorName="aws-controltower-ConfigAggregatorForOrganizations")["AggregateComplianceByConfigRules"] == []
    # Control Tower's organization trail, logging, from any Region
    mgmt = emu.client("cloudtrail", region=OTHER)
    trails = mgmt.describe_trails()["trailList"]
    assert [(t["Name"], t["IsOrganizationTrail"], t["IsMultiRegionTrail"], t["HomeRegion"], t["S3BucketName"]) for t in trails] == \
        [("aws-controltower-BaselineCloudTrail", True, True, HOME, f"aws-controltower-logs-{ids['log-archive']}-{HOME}")]
    home = emu.client("cloudtrail", region=HOME)
    assert home.get_trail_status(Name=trails[0]["TrailARN"])["IsLogging"] is True
    assert error_of(mgmt.stop_logging, Name="aws-controltower-BaselineCloudTrail")["Code"] == "InvalidHomeRegionException"
    home.stop_logging(Name="aws-controltower-BaselineCloudTrail")
    assert home.get_trail_status(Name="aws-controltower-BaselineCloudTrail")["IsLogging"] is False
    assert emu.get("/_lzemu/detective")["controltower_trail"]["IsLogging"] is False
    # a member account sees the organization trail too, but cannot stop it
    member = emu.client("cloudtrail", account=ids["p1"], region=HOME)
    assert [t["Name"] for t in member.describe_trails()["trailList"]] == ["aws-controltower-BaselineCloudTrail"]
    assert error_of(member.start_logging, Name="aws-controltower-BaselineCloudTrail")["Code"] == \
        "NotOrganizationMasterAccountException"
