"""Stack instances deploy real stacks into member accounts; failures per account ×
region; OUTDATED instances after a failed update; suspended accounts and DIFFERENCE;
CreateStackInstances skips existing instances; CallAs DELEGATED_ADMIN."""

import time

import botocore.exceptions
import pytest

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  AuditAccountId:
    Type: String
  Label:
    Type: String
    Default: first
Resources:
  AuditRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "audit-${AWS::Region}"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { AWS: !Sub "arn:aws:iam::${AuditAccountId}:root" }
            Action: sts:AssumeRole
      Tags:
        - { Key: label, Value: !Ref Label }
Outputs:
  RoleArn:
    Value: !GetAtt AuditRole.Arn
  Label:
    Value: !Ref Label
"""

GLOBAL_NAME = TEMPLATE.replace('!Sub "audit-${AWS::Region}"', "audit-global")


def wait_op(cfn, name, op_id, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op_id)["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED", "STOPPING"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"operation {op_id} still running")


@pytest.fixture
def ou(emu, org):
    """root / team with accounts a and b; returns ids."""
    orgs, root = org
    team = orgs.create_organizational_unit(ParentId=root, Name="team")["OrganizationalUnit"]["Id"]
    ids = {}
    for name in ("a", "b"):
        acc = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=acc, SourceParentId=root, DestinationParentId=team)
        ids[name] = acc
    emu.post("/_lzemu/settings", {"stackset_operation_seconds": 0.3})
    return {"orgs": orgs, "root": root, "team": team, **ids}


def make_set(cfn, template=TEMPLATE, name="baseline", audit="999999999999", **extra):
    cfn.create_stack_set(StackSetName=name, TemplateBody=template, PermissionModel="SERVICE_MANAGED",
                         Capabilities=["CAPABILITY_NAMED_IAM"],
                         Parameters=[{"ParameterKey": "AuditAccountId", "ParameterValue": audit}],
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                         ManagedExecution={"Active": True}, **extra)


def stacks_in(emu, account, region):
    cfn = emu.client("cloudformation", account=account, region=region)
    return [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"].startswith("StackSet-baseline-")]


def instances(cfn, name="baseline"):
    return {(i["Account"], i["Region"]): i for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]}


def test_instances_deploy_stacks_with_status_outputs_and_parameters(emu, ou):
    cfn = emu.client("cloudformation")
    make_set(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    for account in (ou["a"], ou["b"]):
        for region in ("us-east-1", "eu-west-1"):
            [stack] = stacks_in(emu, account, region)
            assert stack["StackStatus"] == "CREATE_COMPLETE"
            params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
            assert params["AuditAccountId"] == "999999999999" and params["Label"] == "first"
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
            assert outputs["RoleArn"] == f"arn:aws:iam::{account}:role/audit-{region}"
            # the instance names the stack that exists in the member account
            assert instances(cfn)[(account, region)]["StackId"] == stack["StackId"]
        role = emu.client("iam", account=account).get_role(RoleName="audit-us-east-1")["Role"]
        assert "999999999999" in str(role["AssumeRolePolicyDocument"])
    # nothing lands in the management account
    assert stacks_in(emu, "123456789012", "us-east-1") == []

    # an update reaches every stack with the new parameters
    op = cfn.update_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_NAMED_IAM"],
                              Parameters=[{"ParameterKey": "AuditAccountId", "ParameterValue": "888888888888"},
                                          {"ParameterKey": "Label", "ParameterValue": "second"}])["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    [stack] = stacks_in(emu, ou["a"], "eu-west-1")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Label"] == "second"

    # deleting the instances deletes the stacks and their resources
    op = cfn.delete_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"], RetainStacks=False,
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    assert stacks_in(emu, ou["a"], "us-east-1") == []
    with pytest.raises(botocore.exceptions.ClientError):
        emu.client("iam", account=ou["a"]).get_role(RoleName="audit-us-east-1")


def test_a_template_that_does_not_deploy_fails_its_instance(emu, ou):
    """A role named the same in two regions: the second region's stack fails, as in AWS."""
    cfn = emu.client("cloudformation")
    make_set(cfn, template=GLOBAL_NAME)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]},
                                    OperationPreferences={"FailureToleranceCount": 0,
                                                          "RegionConcurrencyType": "SEQUENTIAL",
                                                          "RegionOrder": ["us-east-1", "eu-west-1"]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "FAILED"
    results = cfn.list_stack_set_operation_results(
        StackSetName="baseline", OperationId=op,
        Filters=[{"Name": "OPERATION_RESULT_STATUS", "Values": "FAILED"}])["Summaries"]
    assert {(r["Account"], r["Region"]) for r in results} == {(ou["a"], "eu-west-1"), (ou["b"], "eu-west-1")}
    assert all("audit-global" in r["StatusReason"] or "exists" in r["StatusReason"] for r in results)
    assert [s["StackStatus"] for s in stacks_in(emu, ou["a"], "us-east-1")] == ["CREATE_COMPLETE"]
    assert stacks_in(emu, ou["a"], "eu-west-1") == []  # rolled back


def test_failure_injected_per_account_region_and_stack_set(emu, ou):
    emu.post("/_lzemu/settings", {"stackset_fail_instances": [
        {"account": ou["b"], "region": "eu-west-1", "stack_set": "baseline", "reason": "AccessDenied: s3:PutAccountPublicAccessBlock"}]})
    cfn = emu.client("cloudformation")
    make_set(cfn)
    make_set(cfn, name="other", template=TEMPLATE.replace("audit-", "other-"))
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    other = cfn.create_stack_instances(StackSetName="other", Regions=["us-east-1", "eu-west-1"],
                                       DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "FAILED"
    assert wait_op(cfn, "other", other) == "SUCCEEDED"
    failed = [r for r in cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
              if r["Status"] == "FAILED"]
    assert [(r["Account"], r["Region"], r["StatusReason"]) for r in failed] == [
        (ou["b"], "eu-west-1", "AccessDenied: s3:PutAccountPublicAccessBlock")]
    got = instances(cfn)
    assert got[(ou["b"], "eu-west-1")]["Status"] == "OUTDATED"
    assert got[(ou["b"], "us-east-1")]["Status"] == "CURRENT"


def test_a_failed_update_leaves_the_failed_instances_outdated(emu, ou):
    cfn = emu.client("cloudformation")
    make_set(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    emu.post("/_lzemu/settings", {"stackset_fail_instances": [{"account": ou["a"]}]})
    op = cfn.update_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_NAMED_IAM"],
                              Parameters=[{"ParameterKey": "AuditAccountId", "ParameterValue": "999999999999"},
                                          {"ParameterKey": "Label", "ParameterValue": "second"}])["OperationId"]
    assert wait_op(cfn, "baseline", op) == "FAILED"
    got = instances(cfn)
    assert got[(ou["a"], "us-east-1")]["Status"] == "OUTDATED"
    assert got[(ou["a"], "us-east-1")]["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert got[(ou["b"], "us-east-1")]["Status"] == "CURRENT"
    # the stack set holds the new definition; the failed account's stack the old one
    params = cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["Parameters"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in params}["Label"] == "second"
    [stack] = stacks_in(emu, ou["a"], "us-east-1")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Label"] == "first"
    # a repair (UpdateStackSet on the failed account only) brings it back
    emu.post("/_lzemu/settings", {"stackset_fail_instances": []})
    op = cfn.update_stack_set(StackSetName="baseline", UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
                              Parameters=[{"ParameterKey": "AuditAccountId", "UsePreviousValue": True},
                                          {"ParameterKey": "Label", "UsePreviousValue": True}],
                              Regions=["us-east-1"],
                              DeploymentTargets={"OrganizationalUnitIds": [ou["team"]], "Accounts": [ou["a"]],
                                                 "AccountFilterType": "INTERSECTION"})["OperationId"]
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
    assert [r["Account"] for r in results] == [ou["a"]]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    assert instances(cfn)[(ou["a"], "us-east-1")]["Status"] == "CURRENT"


def test_suspended_accounts_are_skipped_and_difference_leaves_them_out(emu, ou):
    emu.post("/_lzemu/organizations/account-state", {"account_id": ou["b"], "state": "SUSPENDED"})
    cfn = emu.client("cloudformation")
    make_set(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    got = instances(cfn)
    assert got[(ou["b"], "us-east-1")]["Status"] == "OUTDATED"
    assert got[(ou["b"], "us-east-1")]["StackInstanceStatus"]["DetailedStatus"] == "SKIPPED_SUSPENDED_ACCOUNT"
    assert stacks_in(emu, ou["b"], "us-east-1") == []

    make_set(cfn, name="filtered", template=TEMPLATE.replace("audit-", "filtered-"))
    op = cfn.create_stack_instances(StackSetName="filtered", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]], "Accounts": [ou["b"]],
                                                       "AccountFilterType": "DIFFERENCE"})["OperationId"]
    assert wait_op(cfn, "filtered", op) == "SUCCEEDED"
    assert set(instances(cfn, "filtered")) == {(ou["a"], "us-east-1")}


def test_create_stack_instances_skips_existing_instances(emu, ou):
    cfn = emu.client("cloudformation")
    make_set(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    stack_ids = {k: v["StackId"] for k, v in instances(cfn).items()}
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
    assert {r["Region"] for r in results} == {"eu-west-1"}
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    got = instances(cfn)
    assert len(got) == 4
    assert all(got[k]["StackId"] == v for k, v in stack_ids.items())


def test_delegated_admin_runs_the_management_accounts_stack_sets(emu, ou):
    orgs = ou["orgs"]
    admin = ou["a"]
    orgs.register_delegated_administrator(AccountId=admin,
                                          ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    delegate = emu.client("cloudformation", account=admin)
    delegate.create_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED",
                              Capabilities=["CAPABILITY_NAMED_IAM"],
                              Parameters=[{"ParameterKey": "AuditAccountId", "ParameterValue": "999999999999"}],
                              AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                              CallAs="DELEGATED_ADMIN")
    op = delegate.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"], CallAs="DELEGATED_ADMIN",
                                         DeploymentTargets={"OrganizationalUnitIds": [ou["team"]]})["OperationId"]
    status = None
    for _ in range(100):
        status = delegate.describe_stack_set_operation(StackSetName="baseline", OperationId=op,
                                                       CallAs="DELEGATED_ADMIN")["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED"):
            break
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    # the management account sees and owns the same stack set and its instances
    cfn = emu.client("cloudformation")
    assert set(instances(cfn)) == {(ou["a"], "us-east-1"), (ou["b"], "us-east-1")}
    assert [s["StackStatus"] for s in stacks_in(emu, ou["b"], "us-east-1")] == ["CREATE_COMPLETE"]
    # without CallAs the delegated administrator has no stack set of its own by that name
    with pytest.raises(botocore.exceptions.ClientError) as err:
        delegate.describe_stack_set(StackSetName="baseline")
    assert err.value.response["Error"]["Code"] == "StackSetNotFoundException"
