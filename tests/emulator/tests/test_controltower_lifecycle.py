"""Control Tower: landing zone details, auto-enrollment, enrolling by reset, enabled
baseline filters, drift, failures, one OU operation at a time, busy everywhere."""

import urllib.error

import botocore.exceptions
import pytest

from conftest import MANAGEMENT

OP_SECONDS = 600  # long enough that nothing finishes unless a test moves the clock


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


@pytest.fixture
def lz(emu, org):
    """A landing zone with long operations; returns (ct client, orgs, root, emu)."""
    orgs, root = org
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": OP_SECONDS})
    return emu.client("controltower"), orgs, root, emu


def finish(emu):
    emu.post("/_lzemu/clock", {"advance": OP_SECONDS + 1})


def ct_baseline(ct):
    return next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")


def registered_ou(ct, orgs, root, emu, name):
    ou = orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]
    enabled = ct.enable_baseline(baselineIdentifier=ct_baseline(ct), baselineVersion="4.0",
                                 targetIdentifier=ou["Arn"])["arn"]
    finish(emu)
    return ou, enabled


def new_account(orgs, name):
    return orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]


def account_arn(orgs, account):
    org_id = orgs.describe_organization()["Organization"]["Id"]
    return f"arn:aws:organizations::{MANAGEMENT}:account/{org_id}/{account}"


def enable_auto_enrollment(ct, emu):
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    manifest = ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["manifest"]
    ct.update_landing_zone(landingZoneIdentifier=arn, version="3.3", manifest=manifest,
                           remediationTypes=["INHERITANCE_DRIFT"])
    finish(emu)
    return arn


# --------------------------------------------------------------- landing zone
def test_get_landing_zone_answers_versions_remediation_and_manifest(lz):
    ct, _, _, _ = lz
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    got = ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]
    assert (got["version"], got["latestAvailableVersion"], got["status"]) == ("3.3", "3.3", "ACTIVE")
    assert got["remediationTypes"] == [] and got["driftStatus"] == {"status": "IN_SYNC"}
    manifest = got["manifest"]
    assert manifest["governedRegions"] == ["us-east-1"]
    assert manifest["organizationStructure"] == {"security": {"name": "Security"}, "sandbox": {"name": "Sandbox"}}


def test_start_up_landing_zone_from_settings_and_the_control_endpoint(emu, org):
    emu.post("/_lzemu/settings", {"controltower_landing_zone": {
        "version": "3.0", "latestAvailableVersion": "4.0", "manifest": {
            "governedRegions": ["us-east-1", "eu-west-1"],
            "organizationStructure": {"security": {"name": "Core"}, "sandbox": {"name": "Experiments"}}}}})
    ct = emu.client("controltower")
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    got = ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]
    assert (got["version"], got["latestAvailableVersion"]) == ("3.0", "4.0")
    assert got["manifest"]["governedRegions"] == ["us-east-1", "eu-west-1"]
    assert got["manifest"]["organizationStructure"]["sandbox"] == {"name": "Experiments"}
    assert error_of(ct.update_landing_zone, landingZoneIdentifier=arn, version="3.0", manifest=got["manifest"],
                    remediationTypes=["INHERITANCE_DRIFT"])["Error"]["Code"] == "ValidationException"
    answer = emu.post("/_lzemu/controltower/landing-zone", {"version": "3.3", "remediationTypes": ["INHERITANCE_DRIFT"],
                                                           "driftStatus": "DRIFTED"})
    assert answer["version"] == "3.3" and answer["remediationTypes"] == ["INHERITANCE_DRIFT"]
    got = ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]
    assert got["remediationTypes"] == ["INHERITANCE_DRIFT"] and got["driftStatus"] == {"status": "DRIFTED"}
    with pytest.raises(urllib.error.HTTPError) as bad:
        emu.post("/_lzemu/controltower/landing-zone", {"colour": "blue"})
    assert bad.value.code == 400


# ----------------------------------------------------------- auto-enrollment
def test_move_into_a_registered_ou_auto_enrolls_the_account(lz):
    ct, orgs, root, emu = lz
    enable_auto_enrollment(ct, emu)
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "workloads")
    account = new_account(orgs, "app1")
    assert ct.list_enabled_baselines(filter={"targetIdentifiers": [account_arn(orgs, account)]})["enabledBaselines"] == []
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou["Id"])
    mine = ct.list_enabled_baselines(filter={"targetIdentifiers": [account_arn(orgs, account)]})["enabledBaselines"]
    assert len(mine) == 1
    enrolled = mine[0]
    assert enrolled["targetIdentifier"] == account_arn(orgs, account)
    assert enrolled["parentIdentifier"] == ou_baseline
    assert enrolled["baselineIdentifier"] == ct_baseline(ct)
    assert enrolled["statusSummary"]["status"] == "UNDER_CHANGE"
    busy = ct.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"]
    assert [e["arn"] for e in busy] == [enrolled["arn"]]
    assert emu.get("/_lzemu/controltower")["busy"] is True
    op_id = enrolled["statusSummary"]["lastOperationIdentifier"]
    op = ct.get_baseline_operation(operationIdentifier=op_id)["baselineOperation"]
    assert (op["status"], op["operationType"]) == ("IN_PROGRESS", "ENABLE_BASELINE")
    emu.post("/_lzemu/clock", {"advance": OP_SECONDS - 5})
    assert ct.get_baseline_operation(operationIdentifier=op_id)["baselineOperation"]["status"] == "IN_PROGRESS"
    emu.post("/_lzemu/clock", {"advance": 10})
    assert ct.get_baseline_operation(operationIdentifier=op_id)["baselineOperation"]["status"] == "SUCCEEDED"
    details = ct.get_enabled_baseline(enabledBaselineIdentifier=enrolled["arn"])["enabledBaselineDetails"]
    assert details["statusSummary"] == {"status": "SUCCEEDED", "lastOperationIdentifier": op_id}
    assert details["parentIdentifier"] == ou_baseline
    assert ct.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"] == []
    assert emu.get("/_lzemu/controltower")["busy"] is False


def test_a_second_move_while_an_enrollment_runs_is_a_violation(lz):
    ct, orgs, root, emu = lz
    enable_auto_enrollment(ct, emu)
    ou, _ = registered_ou(ct, orgs, root, emu, "workloads")
    first, second = new_account(orgs, "a1"), new_account(orgs, "a2")
    orgs.move_account(AccountId=first, SourceParentId=root, DestinationParentId=ou["Id"])
    orgs.move_account(AccountId=second, SourceParentId=root, DestinationParentId=ou["Id"])
    moves = [e for e in emu.log() if e["operation"] == "MoveAccount"]
    assert [e["ct_busy"] for e in moves] == [False, True]
    violations = [v for v in emu.violations() if v["kind"] == "mutation_while_controltower_busy"]
    assert len(violations) == 1 and "MoveAccount" in violations[0]["detail"] and violations[0]["seq"] == moves[1]["seq"]


def test_without_auto_enrollment_the_ou_drifts_until_a_reset_enrolls_everyone(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "workloads")
    accounts = [new_account(orgs, f"m{i}") for i in range(2)]
    for account in accounts:
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou["Id"])
    arns = [account_arn(orgs, a) for a in accounts]
    assert ct.list_enabled_baselines(filter={"targetIdentifiers": arns})["enabledBaselines"] == []
    drifted = ct.list_enabled_baselines(filter={"inheritanceDriftStatuses": ["DRIFTED"]})["enabledBaselines"]
    assert [e["arn"] for e in drifted] == [ou_baseline]
    assert drifted[0]["driftStatusSummary"]["types"]["inheritance"] == {"status": "DRIFTED"}
    op = ct.reset_enabled_baseline(enabledBaselineIdentifier=ou_baseline)["operationIdentifier"]
    children = ct.list_enabled_baselines(filter={"parentIdentifiers": [ou_baseline]})["enabledBaselines"]
    assert sorted(c["targetIdentifier"] for c in children) == sorted(arns)
    assert {c["statusSummary"]["status"] for c in children} == {"UNDER_CHANGE"}
    assert {c["statusSummary"]["lastOperationIdentifier"] for c in children} == {op}
    assert ct.get_baseline_operation(operationIdentifier=op)["baselineOperation"]["operationType"] == \
        "RESET_ENABLED_BASELINE"
    finish(emu)
    children = ct.list_enabled_baselines(filter={"parentIdentifiers": [ou_baseline]})["enabledBaselines"]
    assert {c["statusSummary"]["status"] for c in children} == {"SUCCEEDED"}
    assert ct.list_enabled_baselines(filter={"inheritanceDriftStatuses": ["DRIFTED"]},
                                     includeChildren=True)["enabledBaselines"] == []


def test_enabled_baseline_filters_for_accounts(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "a")
    other, other_baseline = registered_ou(ct, orgs, root, emu, "b")
    emu.post("/_lzemu/controltower/landing-zone", {"remediationTypes": ["INHERITANCE_DRIFT"]})
    in_a, in_b = new_account(orgs, "x"), new_account(orgs, "y")
    orgs.move_account(AccountId=in_a, SourceParentId=root, DestinationParentId=ou["Id"])
    orgs.move_account(AccountId=in_b, SourceParentId=root, DestinationParentId=other["Id"])
    finish(emu)
    top = ct.list_enabled_baselines()["enabledBaselines"]
    assert sorted(e["arn"] for e in top) == sorted([ou_baseline, other_baseline])
    everything = ct.list_enabled_baselines(includeChildren=True)["enabledBaselines"]
    assert len(everything) == 4
    under_a = ct.list_enabled_baselines(filter={"parentIdentifiers": [ou_baseline]})["enabledBaselines"]
    assert [e["targetIdentifier"] for e in under_a] == [account_arn(orgs, in_a)]
    both = ct.list_enabled_baselines(filter={"parentIdentifiers": [ou_baseline, other_baseline],
                                             "statuses": ["SUCCEEDED"]})["enabledBaselines"]
    assert len(both) == 2
    assert ct.list_enabled_baselines(filter={"parentIdentifiers": [ou_baseline], "statuses": ["FAILED"]})[
        "enabledBaselines"] == []
    by_baseline = ct.list_enabled_baselines(filter={"baselineIdentifiers": [ct_baseline(ct)]},
                                            includeChildren=True)["enabledBaselines"]
    assert len(by_baseline) == 4
    # moving an enrolled account on re-parents its baseline under the new OU
    orgs.move_account(AccountId=in_a, SourceParentId=ou["Id"], DestinationParentId=other["Id"])
    moved = ct.list_enabled_baselines(filter={"targetIdentifiers": [account_arn(orgs, in_a)]})["enabledBaselines"]
    assert moved[0]["parentIdentifier"] == other_baseline and moved[0]["statusSummary"]["status"] == "UNDER_CHANGE"


# --------------------------------------------------------------------- drift
def test_drift_is_settable_and_visible(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "d")
    answer = emu.post("/_lzemu/controltower/drift", {
        "landing_zone": "DRIFTED",
        "enabled_baselines": [{"target": ou["Id"], "inheritance": "DRIFTED", "source": "DRIFTED"}]})
    assert answer == {"landing_zone": "DRIFTED", "enabled_baselines": [ou_baseline]}
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    assert ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["driftStatus"] == {"status": "DRIFTED"}
    details = ct.get_enabled_baseline(enabledBaselineIdentifier=ou_baseline)["enabledBaselineDetails"]
    assert details["driftStatusSummary"] == {"types": {"inheritance": {"status": "DRIFTED"},
                                                       "source": {"status": "DRIFTED"}}}
    assert [e["arn"] for e in ct.list_enabled_baselines(filter={"sourceDriftStatuses": ["DRIFTED"]})[
        "enabledBaselines"]] == [ou_baseline]
    assert ct.list_enabled_baselines(filter={"sourceDriftStatuses": ["IN_SYNC"]})["enabledBaselines"] == []
    emu.post("/_lzemu/controltower/drift", {"enabled_baselines": [{"target": ou_baseline, "source": "IN_SYNC"}]})
    assert ct.get_enabled_baseline(enabledBaselineIdentifier=ou_baseline)["enabledBaselineDetails"][
        "driftStatusSummary"]["types"]["source"] == {"status": "IN_SYNC"}
    ct.reset_landing_zone(landingZoneIdentifier=arn)
    finish(emu)
    assert ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["driftStatus"] == {"status": "IN_SYNC"}
    with pytest.raises(urllib.error.HTTPError) as bad:
        emu.post("/_lzemu/controltower/drift", {"enabled_baselines": [{"target": "ou-none-00000000", "source": "DRIFTED"}]})
    assert bad.value.code == 404


# ------------------------------------------------------------------ failures
def test_registering_a_chosen_ou_fails_with_its_message(lz):
    ct, orgs, root, emu = lz
    emu.post("/_lzemu/settings", {"controltower_fail_targets": {"broken": "StackSet AWSControlTowerBP-BASELINE-ROLES failed"}})
    ou = orgs.create_organizational_unit(ParentId=root, Name="broken")["OrganizationalUnit"]
    resp = ct.enable_baseline(baselineIdentifier=ct_baseline(ct), baselineVersion="4.0", targetIdentifier=ou["Arn"])
    assert ct.get_baseline_operation(operationIdentifier=resp["operationIdentifier"])["baselineOperation"][
        "status"] == "IN_PROGRESS"
    finish(emu)
    op = ct.get_baseline_operation(operationIdentifier=resp["operationIdentifier"])["baselineOperation"]
    assert (op["status"], op["statusMessage"]) == ("FAILED", "StackSet AWSControlTowerBP-BASELINE-ROLES failed")
    assert ct.get_enabled_baseline(enabledBaselineIdentifier=resp["arn"])["enabledBaselineDetails"][
        "statusSummary"]["status"] == "FAILED"


def test_enrolling_a_chosen_account_fails_with_its_message(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "w")
    emu.post("/_lzemu/controltower/landing-zone", {"remediationTypes": ["INHERITANCE_DRIFT"]})
    bad = new_account(orgs, "bad")
    emu.post("/_lzemu/settings", {"controltower_fail_targets": {bad: "AWSControlTowerExecution role is missing"}})
    orgs.move_account(AccountId=bad, SourceParentId=root, DestinationParentId=ou["Id"])
    finish(emu)
    mine = ct.list_enabled_baselines(filter={"targetIdentifiers": [account_arn(orgs, bad)]})["enabledBaselines"][0]
    assert mine["statusSummary"]["status"] == "FAILED"
    op = ct.get_baseline_operation(operationIdentifier=mine["statusSummary"]["lastOperationIdentifier"])
    assert op["baselineOperation"]["statusMessage"] == "AWSControlTowerExecution role is missing"
    # a reset of the OU fails too, and names the account
    reset = ct.reset_enabled_baseline(enabledBaselineIdentifier=ou_baseline)["operationIdentifier"]
    finish(emu)
    op = ct.get_baseline_operation(operationIdentifier=reset)["baselineOperation"]
    assert op["status"] == "FAILED"
    assert op["statusMessage"] == f"Account {bad} failed to enroll: AWSControlTowerExecution role is missing"


# ----------------------------------------------------------------- conflicts
def test_one_ou_operation_at_a_time(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "one")
    two = orgs.create_organizational_unit(ParentId=root, Name="two")["OrganizationalUnit"]
    ct.reset_enabled_baseline(enabledBaselineIdentifier=ou_baseline)
    for call, kwargs in ((ct.enable_baseline, {"baselineIdentifier": ct_baseline(ct), "baselineVersion": "4.0",
                                               "targetIdentifier": two["Arn"]}),
                         (ct.reset_enabled_baseline, {"enabledBaselineIdentifier": ou_baseline}),
                         (ct.update_enabled_baseline, {"enabledBaselineIdentifier": ou_baseline,
                                                       "baselineVersion": "4.1"})):
        resp = error_of(call, **kwargs)
        assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == ("ConflictException", 409)
    finish(emu)
    ct.enable_baseline(baselineIdentifier=ct_baseline(ct), baselineVersion="4.0", targetIdentifier=two["Arn"])


def test_account_enrollment_blocks_its_own_ou_only(lz):
    ct, orgs, root, emu = lz
    ou, ou_baseline = registered_ou(ct, orgs, root, emu, "busy")
    other = orgs.create_organizational_unit(ParentId=root, Name="free")["OrganizationalUnit"]
    emu.post("/_lzemu/controltower/landing-zone", {"remediationTypes": ["INHERITANCE_DRIFT"]})
    account = new_account(orgs, "e")
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou["Id"])
    resp = error_of(ct.reset_enabled_baseline, enabledBaselineIdentifier=ou_baseline)
    assert resp["Error"]["Code"] == "ConflictException"
    ct.enable_baseline(baselineIdentifier=ct_baseline(ct), baselineVersion="4.0", targetIdentifier=other["Arn"])


# ------------------------------------------------------------ busy, visibly
def test_each_staged_activity_shows_through_the_public_apis(lz):
    ct, orgs, root, emu = lz
    target = orgs.create_organizational_unit(ParentId=root, Name="staged")["OrganizationalUnit"]
    sc = emu.client("servicecatalog")
    for kind in ("landing_zone_update", "register_ou", "control_operation", "account_factory"):
        emu.post("/_lzemu/controltower/activity", {"kind": kind, "seconds": 60, "target": target["Id"]
                                                   if kind == "register_ou" else None})
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    assert ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "PROCESSING"
    assert len(ct.list_landing_zone_operations(filter={"statuses": ["IN_PROGRESS"]})["landingZoneOperations"]) == 1
    busy = ct.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"]
    assert [e["targetIdentifier"] for e in busy] == [target["Arn"]]
    assert len(ct.list_control_operations(filter={"statuses": ["IN_PROGRESS"]})["controlOperations"]) == 1
    products = sc.search_provisioned_products(AccessLevelFilter={"Key": "Account", "Value": "self"},
                                              Filters={"SearchQuery": ["status:UNDER_CHANGE"]})["ProvisionedProducts"]
    assert len(products) == 1 and products[0]["Type"] == "CONTROL_TOWER_ACCOUNT"
    emu.client("cloudformation").create_stack_set(StackSetName="racer", TemplateBody="{}")
    ct.list_baselines()
    kinds = [(v["kind"], v["detail"].split(" ")[0]) for v in emu.violations()]
    assert kinds == [("mutation_while_controltower_busy", "cloudformation:CreateStackSet")]
    emu.post("/_lzemu/clock", {"advance": 61})
    assert emu.get("/_lzemu/controltower")["busy"] is False
    assert sc.search_provisioned_products(Filters={"SearchQuery": ["status:UNDER_CHANGE"]})["ProvisionedProducts"] == []
    assert ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "ACTIVE"


def test_account_moves_beside_enrollments_into_other_ous_are_not_races(emu, org):
    """Control Tower runs account operations side by side, one per OU: moving
    an account while another's enrollment runs in another OU is no violation;
    a policy change beside the enrollment is one."""
    orgs, root = org
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": 30,
                                  "controltower_landing_zone": {"remediationTypes": ["INHERITANCE_DRIFT"]}})
    ct = emu.client("controltower")
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    ous = []
    for name in ("Workloads", "Sandbox"):
        ou = orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]
        ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0", targetIdentifier=ou["Arn"])
        emu.post("/_lzemu/clock", {"advance": 31})
        ous.append(ou)
    ids = []
    for name in ("first", "second"):
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids.append(orgs.describe_create_account_status(
            CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"])
    emu.post("/_lzemu/log/clear")
    orgs.move_account(AccountId=ids[0], SourceParentId=root, DestinationParentId=ous[0]["Id"])
    # The first account's enrollment runs now; the second moves into another OU.
    orgs.move_account(AccountId=ids[1], SourceParentId=root, DestinationParentId=ous[1]["Id"])
    assert emu.get("/_lzemu/violations") == []
    orgs.create_policy(Name="p", Description="p", Type="SERVICE_CONTROL_POLICY",
                       Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}')
    kinds = [v["kind"] for v in emu.get("/_lzemu/violations")]
    assert kinds == ["mutation_while_controltower_busy"]
