"""Detective services at organization level: right account or AccessDenied."""

import botocore.exceptions
import pytest

FSBP = "arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


@pytest.fixture
def accounts(emu, org):
    orgs, root = org
    ids = {}
    for name in ("audit", "log", "workload"):
        ids[name] = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
    return orgs, ids


def test_guardduty_delegated_admin_and_organization_configuration(emu, accounts):
    orgs, ids = accounts
    mgmt = emu.client("guardduty")
    audit = emu.client("guardduty", account=ids["audit"])
    # only the management account may choose the admin
    assert error_of(audit.enable_organization_admin_account, AdminAccountId=ids["audit"])["Error"]["Code"] == "AccessDeniedException"
    mgmt.enable_organization_admin_account(AdminAccountId=ids["audit"])
    assert mgmt.list_organization_admin_accounts()["AdminAccounts"] == [{"AdminAccountId": ids["audit"], "AdminStatus": "ENABLED"}]
    delegated = orgs.list_delegated_administrators(ServicePrincipal="guardduty.amazonaws.com")["DelegatedAdministrators"]
    assert [d["Id"] for d in delegated] == [ids["audit"]]
    # per region: another region has no admin
    assert emu.client("guardduty", region="eu-west-1").list_organization_admin_accounts()["AdminAccounts"] == []

    detector = audit.create_detector(Enable=True)["DetectorId"]
    audit.update_organization_configuration(DetectorId=detector, AutoEnableOrganizationMembers="ALL",
                                            Features=[{"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"}])
    config = audit.describe_organization_configuration(DetectorId=detector)
    assert config["AutoEnableOrganizationMembers"] == "ALL" and config["AutoEnable"] is True
    assert config["Features"] == [{"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"}]
    members = {m["AccountId"] for m in audit.list_members(DetectorId=detector)["Members"]}
    assert members == {ids["log"], ids["workload"], "123456789012"}

    # a member account is not the admin
    workload = emu.client("guardduty", account=ids["workload"])
    own = workload.create_detector(Enable=True)["DetectorId"]
    assert error_of(workload.describe_organization_configuration, DetectorId=own)["Error"]["Code"] == "AccessDeniedException"
    # the admin must use its own detector
    assert error_of(audit.describe_organization_configuration, DetectorId=own)["Error"]["Code"] == "BadRequestException"

    mgmt.disable_organization_admin_account(AdminAccountId=ids["audit"])
    assert mgmt.list_organization_admin_accounts()["AdminAccounts"] == []
    assert orgs.list_delegated_administrators(ServicePrincipal="guardduty.amazonaws.com")["DelegatedAdministrators"] == []


def test_guardduty_create_members_for_existing_accounts(emu, accounts):
    orgs, ids = accounts
    emu.client("guardduty").enable_organization_admin_account(AdminAccountId=ids["audit"])
    audit = emu.client("guardduty", account=ids["audit"])
    detector = audit.create_detector(Enable=True)["DetectorId"]
    resp = audit.create_members(DetectorId=detector, AccountDetails=[
        {"AccountId": ids["workload"], "Email": "workload@example.com"},
        {"AccountId": "999999999999", "Email": "stranger@example.com"},
    ])
    assert [u["AccountId"] for u in resp["UnprocessedAccounts"]] == ["999999999999"]
    members = audit.list_members(DetectorId=detector)["Members"]
    assert [(m["AccountId"], m["RelationshipStatus"], m["AdministratorId"]) for m in members] == \
        [(ids["workload"], "Enabled", ids["audit"])]
    log = [e for e in emu.log() if e["service"] == "guardduty"]
    assert [e["operation"] for e in log][-2:] == ["CreateMembers", "ListMembers"]
    assert [e["mutating"] for e in log][-2:] == [True, False]


def test_security_hub_admin_and_standards(emu, accounts):
    orgs, ids = accounts
    mgmt = emu.client("securityhub")
    audit = emu.client("securityhub", account=ids["audit"])
    assert error_of(audit.enable_organization_admin_account, AdminAccountId=ids["audit"])["Error"]["Code"] == "AccessDeniedException"
    mgmt.enable_organization_admin_account(AdminAccountId=ids["audit"])
    assert mgmt.list_organization_admin_accounts()["AdminAccounts"] == [{"AccountId": ids["audit"], "Status": "ENABLED"}]
    assert [d["Id"] for d in orgs.list_delegated_administrators(
        ServicePrincipal="securityhub.amazonaws.com")["DelegatedAdministrators"]] == [ids["audit"]]

    standards = {s["Name"]: s["StandardsArn"] for s in audit.describe_standards()["Standards"]}
    assert standards["AWS Foundational Security Best Practices v1.0.0"] == FSBP
    assert "CIS AWS Foundations Benchmark v1.4.0" in standards
    assert error_of(audit.batch_enable_standards, StandardsSubscriptionRequests=[{"StandardsArn": FSBP}])[
        "Error"]["Code"] == "InvalidAccessException"
    audit.enable_security_hub(EnableDefaultStandards=False)
    enabled = audit.batch_enable_standards(StandardsSubscriptionRequests=[{"StandardsArn": FSBP}])["StandardsSubscriptions"]
    assert enabled[0]["StandardsStatus"] == "PENDING"
    sub = enabled[0]["StandardsSubscriptionArn"]
    assert sub.startswith(f"arn:aws:securityhub:us-east-1:{ids['audit']}:subscription/")
    got = audit.get_enabled_standards()["StandardsSubscriptions"]
    assert [(s["StandardsArn"], s["StandardsStatus"]) for s in got] == [(FSBP, "READY")]
    # standards are per account: the management account has none and no hub
    assert error_of(emu.client("securityhub").get_enabled_standards)["Error"]["Code"] == "InvalidAccessException"
    audit.batch_disable_standards(StandardsSubscriptionArns=[sub])
    assert audit.get_enabled_standards()["StandardsSubscriptions"] == []


def test_config_organization_rules_need_management_or_delegated_admin(emu, accounts):
    orgs, ids = accounts
    audit = emu.client("config", account=ids["audit"])
    rule = {"OrganizationConfigRuleName": "s3-public-read",
            "OrganizationManagedRuleMetadata": {"RuleIdentifier": "S3_BUCKET_PUBLIC_READ_PROHIBITED"},
            "ExcludedAccounts": [ids["log"]]}
    assert error_of(audit.put_organization_config_rule, **rule)["Error"]["Code"] == "OrganizationAccessDeniedException"
    orgs.enable_aws_service_access(ServicePrincipal="config-multiaccountsetup.amazonaws.com")
    orgs.register_delegated_administrator(AccountId=ids["audit"], ServicePrincipal="config-multiaccountsetup.amazonaws.com")
    emu.post("/_lzemu/settings", {"detective": {"config_rule_seconds": 0}})
    arn = audit.put_organization_config_rule(**rule)["OrganizationConfigRuleArn"]
    assert ":organization-config-rule/s3-public-read-" in arn
    rules = audit.describe_organization_config_rules()["OrganizationConfigRules"]
    assert [(r["OrganizationConfigRuleName"], r["ExcludedAccounts"]) for r in rules] == [("s3-public-read", [ids["log"]])]
    statuses = emu.client("config").describe_organization_config_rule_statuses()["OrganizationConfigRuleStatuses"]
    assert [s["OrganizationRuleStatus"] for s in statuses] == ["CREATE_SUCCESSFUL"]
    detailed = audit.get_organization_config_rule_detailed_status(
        OrganizationConfigRuleName="s3-public-read")["OrganizationConfigRuleDetailedStatus"]
    assert {d["AccountId"] for d in detailed} == {"123456789012", ids["audit"], ids["workload"]}  # log excluded
    assert {d["MemberAccountRuleStatus"] for d in detailed} == {"CREATE_SUCCESSFUL"}
    only = audit.get_organization_config_rule_detailed_status(
        OrganizationConfigRuleName="s3-public-read", Filters={"AccountId": ids["workload"]})
    assert [d["AccountId"] for d in only["OrganizationConfigRuleDetailedStatus"]] == [ids["workload"]]
    audit.put_organization_config_rule(**rule)
    again = audit.get_organization_config_rule_detailed_status(OrganizationConfigRuleName="s3-public-read")
    assert {d["MemberAccountRuleStatus"] for d in again["OrganizationConfigRuleDetailedStatus"]} == {"UPDATE_SUCCESSFUL"}
    # member accounts run the rule under its member name
    assert {d["ConfigRuleName"] for d in again["OrganizationConfigRuleDetailedStatus"]} == {
        next(iter({d["ConfigRuleName"] for d in detailed}))}
    assert detailed[0]["ConfigRuleName"].startswith("OrgConfigRule-s3-public-read-")
    assert error_of(audit.describe_organization_config_rules, OrganizationConfigRuleNames=["nope"])[
        "Error"]["Code"] == "NoSuchOrganizationConfigRuleException"
    audit.delete_organization_config_rule(OrganizationConfigRuleName="s3-public-read")
    assert audit.describe_organization_config_rules()["OrganizationConfigRules"] == []
    workload = emu.client("config", account=ids["workload"])
    assert error_of(workload.describe_organization_conformance_packs)["Error"]["Code"] == "OrganizationAccessDeniedException"


def test_delegated_administrators_for_securityhub_config_and_stacksets(emu, accounts):
    orgs, ids = accounts
    for principal in ("securityhub.amazonaws.com", "config.amazonaws.com",
                      "member.org.stacksets.cloudformation.amazonaws.com"):
        orgs.enable_aws_service_access(ServicePrincipal=principal)
        orgs.register_delegated_administrator(AccountId=ids["audit"], ServicePrincipal=principal)
    services = {s["ServicePrincipal"] for s in orgs.list_delegated_services_for_account(AccountId=ids["audit"])["DelegatedServices"]}
    assert services == {"securityhub.amazonaws.com", "config.amazonaws.com",
                        "member.org.stacksets.cloudformation.amazonaws.com"}


def test_stackset_call_as_delegated_admin(emu, accounts):
    orgs, ids = accounts
    delegate = emu.client("cloudformation", account=ids["audit"])
    kwargs = dict(StackSetName="security", TemplateBody="{}", PermissionModel="SERVICE_MANAGED",
                  AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False}, CallAs="DELEGATED_ADMIN")
    assert error_of(delegate.create_stack_set, **kwargs)["Error"]["Code"] == "ValidationError"
    orgs.register_delegated_administrator(AccountId=ids["audit"],
                                          ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    delegate.create_stack_set(**kwargs)
    # the stack set belongs to the management account
    assert [s["StackSetName"] for s in emu.client("cloudformation").list_stack_sets()["Summaries"]] == ["security"]
    assert delegate.list_stack_sets()["Summaries"] == []
    assert [s["StackSetName"] for s in delegate.list_stack_sets(CallAs="DELEGATED_ADMIN")["Summaries"]] == ["security"]
