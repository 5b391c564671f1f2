"""StackSets that take time, conflict, target whole OU subtrees and auto-deploy."""

import time

import botocore.exceptions
import pytest

TEMPLATE = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


def wait_op(cfn, name, op_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op_id)["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED", "STOPPING"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"operation {op_id} still running")


@pytest.fixture
def tree(emu, org):
    """root / group / {prod / team, dev}, accounts: a_prod in prod, a_team in team, a_dev in dev, a_root in root."""
    orgs, root = org
    ou = lambda parent, name: orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
    group = ou(root, "group")
    prod = ou(group, "prod")
    team = ou(prod, "team")
    dev = ou(group, "dev")
    accounts = {}
    for name, parent in (("a_prod", prod), ("a_team", team), ("a_dev", dev), ("a_root", root)):
        acc = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        if parent != root:
            orgs.move_account(AccountId=acc, SourceParentId=root, DestinationParentId=parent)
        accounts[name] = acc
    return {"orgs": orgs, "root": root, "group": group, "prod": prod, "team": team, "dev": dev, **accounts}


def service_managed(cfn, name="baseline", auto=True, managed=False, retain=False):
    cfn.create_stack_set(StackSetName=name, TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": auto, "RetainStacksOnAccountRemoval": retain},
                         ManagedExecution={"Active": managed})


def instances(cfn, name):
    return {(i["Account"], i["Region"]): i for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]}


def test_operation_runs_for_its_configured_time(emu, tree):
    emu.post("/_lzemu/settings", {"stackset_operation_seconds": 1.5})
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    started = time.monotonic()
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})["OperationId"]
    desc = cfn.describe_stack_set_operation(StackSetName="baseline", OperationId=op)["StackSetOperation"]
    assert desc["Status"] == "RUNNING" and desc["Action"] == "CREATE"
    assert {i["StackInstanceStatus"]["DetailedStatus"] for i in instances(cfn, "baseline").values()} == {"RUNNING"}
    time.sleep(0.8)
    assert cfn.describe_stack_set_operation(StackSetName="baseline", OperationId=op)["StackSetOperation"]["Status"] == "RUNNING"
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    assert time.monotonic() - started >= 1.5
    done = cfn.describe_stack_set_operation(StackSetName="baseline", OperationId=op)["StackSetOperation"]
    assert done["EndTimestamp"] >= done["CreationTimestamp"]
    got = instances(cfn, "baseline")
    # the whole subtree: prod and prod/team, not dev, not root
    assert set(got) == {(tree["a_prod"], "us-east-1"), (tree["a_team"], "us-east-1")}
    assert {i["Status"] for i in got.values()} == {"CURRENT"}
    assert {i["OrganizationalUnitId"] for i in got.values()} == {tree["prod"]}


def test_concurrent_operation_fails_with_operation_in_progress(emu, tree):
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    service_managed(cfn, name="other")
    cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})
    resp = error_of(cfn.create_stack_instances, StackSetName="baseline", Regions=["us-east-1"],
                    DeploymentTargets={"OrganizationalUnitIds": [tree["dev"]]})
    assert resp["Error"]["Code"] == "OperationInProgressException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 409
    # a different stack set runs concurrently
    cfn.create_stack_instances(StackSetName="other", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [tree["dev"]]})
    assert [v["kind"] for v in emu.violations()] == ["overlapping_stackset_operations"]
    log = [e for e in emu.log() if e["operation"] == "CreateStackInstances"]
    assert [e["error_code"] for e in log] == [None, "OperationInProgressException", None]


def test_managed_execution_queues_instead_of_failing(emu, tree):
    cfn = emu.client("cloudformation")
    service_managed(cfn, managed=True)
    first = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                       DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})["OperationId"]
    second = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                        DeploymentTargets={"OrganizationalUnitIds": [tree["dev"]]})["OperationId"]
    assert cfn.describe_stack_set_operation(StackSetName="baseline", OperationId=second)["StackSetOperation"]["Status"] == "QUEUED"
    assert wait_op(cfn, "baseline", first) == "SUCCEEDED"
    assert wait_op(cfn, "baseline", second) == "SUCCEEDED"
    assert len(instances(cfn, "baseline")) == 3
    assert emu.violations() == []


def test_auto_deployment_follows_accounts_two_levels_down(emu, tree):
    orgs = tree["orgs"]
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["group"]]})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"
    assert {a for a, _ in instances(cfn, "baseline")} == {tree["a_prod"], tree["a_team"], tree["a_dev"]}
    # an account moved from the root into group/prod/team (two levels below the target) gets instances
    orgs.move_account(AccountId=tree["a_root"], SourceParentId=tree["root"], DestinationParentId=tree["team"])
    ops = cfn.list_stack_set_operations(StackSetName="baseline")["Summaries"]
    auto = ops[0]
    assert auto["Action"] == "CREATE" and auto["Status"] in ("RUNNING", "QUEUED")
    assert wait_op(cfn, "baseline", auto["OperationId"]) == "SUCCEEDED"
    got = instances(cfn, "baseline")
    assert {(tree["a_root"], "us-east-1"), (tree["a_root"], "eu-west-1")} <= set(got)
    assert got[(tree["a_root"], "us-east-1")]["OrganizationalUnitId"] == tree["group"]
    # moving it out of the subtree removes its instances
    orgs.move_account(AccountId=tree["a_root"], SourceParentId=tree["team"], DestinationParentId=tree["root"])
    removal = cfn.list_stack_set_operations(StackSetName="baseline")["Summaries"][0]
    assert removal["Action"] == "DELETE"
    assert wait_op(cfn, "baseline", removal["OperationId"]) == "SUCCEEDED"
    assert tree["a_root"] not in {a for a, _ in instances(cfn, "baseline")}


def test_no_auto_deployment_when_disabled(emu, tree):
    orgs = tree["orgs"]
    cfn = emu.client("cloudformation")
    service_managed(cfn, auto=False)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})["OperationId"]
    wait_op(cfn, "baseline", op)
    orgs.move_account(AccountId=tree["a_root"], SourceParentId=tree["root"], DestinationParentId=tree["prod"])
    assert len(cfn.list_stack_set_operations(StackSetName="baseline")["Summaries"]) == 1
    assert tree["a_root"] not in {a for a, _ in instances(cfn, "baseline")}


def test_injected_failures_show_per_account_and_region(emu, tree):
    emu.post("/_lzemu/settings", {"stackset_fail_accounts": [tree["a_team"]]})
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1", "eu-west-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]},
                                    OperationPreferences={"FailureToleranceCount": 0})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "FAILED"
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
    by_target = {(r["Account"], r["Region"]): r for r in results}
    assert len(by_target) == 4
    for region in ("us-east-1", "eu-west-1"):
        assert by_target[(tree["a_team"], region)]["Status"] == "FAILED"
        assert "Injected" in by_target[(tree["a_team"], region)]["StatusReason"]
        assert by_target[(tree["a_prod"], region)]["Status"] == "SUCCEEDED"
        assert by_target[(tree["a_prod"], region)]["OrganizationalUnitId"] == tree["prod"]
    failed = cfn.list_stack_instances(StackSetName="baseline", Filters=[{"Name": "DETAILED_STATUS", "Values": "FAILED"}])["Summaries"]
    assert {i["Account"] for i in failed} == {tree["a_team"]}
    desc = cfn.describe_stack_set_operation(StackSetName="baseline", OperationId=op)["StackSetOperation"]
    assert desc["StatusDetails"]["FailedStackInstancesCount"] == 2


def test_failure_tolerance_lets_the_operation_succeed(emu, tree):
    emu.post("/_lzemu/settings", {"stackset_fail_accounts": [tree["a_team"]]})
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]},
                                    OperationPreferences={"FailureToleranceCount": 1})["OperationId"]
    assert wait_op(cfn, "baseline", op) == "SUCCEEDED"


def test_update_and_delete_honour_deployment_targets(emu, tree):
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["group"]]})["OperationId"]
    wait_op(cfn, "baseline", op)
    op = cfn.update_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, Regions=["us-east-1"],
                              DeploymentTargets={"OrganizationalUnitIds": [tree["dev"]]})["OperationId"]
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
    assert [r["Account"] for r in results] == [tree["a_dev"]]
    wait_op(cfn, "baseline", op)
    op = cfn.update_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["team"]]},
                                    ParameterOverrides=[])["OperationId"]
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op)["Summaries"]
    assert [r["Account"] for r in results] == [tree["a_team"]]
    wait_op(cfn, "baseline", op)
    op = cfn.delete_stack_instances(StackSetName="baseline", Regions=["us-east-1"], RetainStacks=False,
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})["OperationId"]
    wait_op(cfn, "baseline", op)
    assert {a for a, _ in instances(cfn, "baseline")} == {tree["a_dev"]}
    assert cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["OrganizationalUnitIds"] == [tree["group"]]
    assert error_of(cfn.delete_stack_set, StackSetName="baseline")["Error"]["Code"] == "StackSetNotEmptyException"
    op = cfn.delete_stack_instances(StackSetName="baseline", Regions=["us-east-1"], RetainStacks=False,
                                    DeploymentTargets={"OrganizationalUnitIds": [tree["group"]]})["OperationId"]
    wait_op(cfn, "baseline", op)
    cfn.delete_stack_set(StackSetName="baseline")
    assert error_of(cfn.describe_stack_set, StackSetName="baseline")["Error"]["Code"] == "StackSetNotFoundException"


def test_self_managed_stack_sets_and_stop(emu, tree):
    cfn = emu.client("cloudformation")
    emu.post("/_lzemu/settings", {"stackset_operation_seconds": 5})
    cfn.create_stack_set(StackSetName="self", TemplateBody=TEMPLATE)
    assert cfn.describe_stack_set(StackSetName="self")["StackSet"]["PermissionModel"] == "SELF_MANAGED"
    op = cfn.create_stack_instances(StackSetName="self", Accounts=[tree["a_dev"]], Regions=["us-east-1"])["OperationId"]
    cfn.stop_stack_set_operation(StackSetName="self", OperationId=op)
    assert cfn.describe_stack_set_operation(StackSetName="self", OperationId=op)["StackSetOperation"]["Status"] == "STOPPED"
    results = cfn.list_stack_set_operation_results(StackSetName="self", OperationId=op)["Summaries"]
    assert [r["Status"] for r in results] == ["CANCELLED"]
    summaries = cfn.list_stack_sets()["Summaries"]
    assert [s["StackSetName"] for s in summaries] == ["self"]
    assert error_of(cfn.create_stack_set, StackSetName="self", TemplateBody=TEMPLATE)["Error"]["Code"] == "NameAlreadyExistsException"
    instance = cfn.describe_stack_instance(StackSetName="self", StackInstanceAccount=tree["a_dev"],
                                           StackInstanceRegion="us-east-1")["StackInstance"]
    assert instance["Account"] == tree["a_dev"]


def test_plain_stacks_still_served_by_moto(emu):
    cfn = emu.client("cloudformation")
    cfn.create_stack(StackName="plain", TemplateBody=TEMPLATE)
    assert cfn.describe_stacks(StackName="plain")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_ou_registration_deploys_control_tower_blueprint(emu, tree):
    ct = emu.client("controltower")
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    orgs = tree["orgs"]
    prod_arn = next(o["Arn"] for o in orgs.list_organizational_units_for_parent(ParentId=tree["group"])["OrganizationalUnits"]
                    if o["Id"] == tree["prod"])
    ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0", targetIdentifier=prod_arn)
    cfn = emu.client("cloudformation")
    names = [s["StackSetName"] for s in cfn.list_stack_sets()["Summaries"]]
    assert names == ["AWSControlTowerBP-BASELINE-CLOUDWATCH"]
    assert {a for a, _ in instances(cfn, names[0])} == {tree["a_prod"]}


def test_stackset_mutation_while_control_tower_busy_is_a_violation(emu, tree):
    cfn = emu.client("cloudformation")
    service_managed(cfn)
    emu.post("/_lzemu/controltower/activity", {"kind": "landing_zone_update", "seconds": 2})
    cfn.list_stack_sets()  # reads are fine
    cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [tree["prod"]]})
    violations = emu.violations()
    assert [v["kind"] for v in violations] == ["mutation_while_controltower_busy"]
    assert "cloudformation:CreateStackInstances" in violations[0]["detail"]
