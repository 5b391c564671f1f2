"""Control Tower restJson1 API, its operation timing, conflicts and staged activity."""

import time

import botocore.exceptions
import pytest

from conftest import MANAGEMENT

CONTROL = "arn:aws:controlcatalog:::control/aaaaaaaaaaaaaaaaaaaaaaaaaa"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def ct(emu, org):
    orgs, root = org
    return emu.client("controltower"), orgs, root


def baseline_arn(ct_client, name):
    return next(b["arn"] for b in ct_client.list_baselines()["baselines"] if b["name"] == name)


def register(ct_client, ou_arn):
    resp = ct_client.enable_baseline(baselineIdentifier=baseline_arn(ct_client, "AWSControlTowerBaseline"),
                                     baselineVersion="4.0", targetIdentifier=ou_arn)
    return resp


def op_status(ct_client, op_id):
    return ct_client.get_baseline_operation(operationIdentifier=op_id)["baselineOperation"]["status"]


def test_list_baselines_has_the_named_baselines(ct):
    client, _, _ = ct
    baselines = {b["name"]: b["arn"] for b in client.list_baselines()["baselines"]}
    assert {"AWSControlTowerBaseline", "IdentityCenterBaseline"} <= set(baselines)
    for arn in baselines.values():
        assert arn.startswith("arn:aws:controltower:us-east-1::baseline/")
        assert len(arn.rsplit("/", 1)[1]) == 16
    page = client.list_baselines(maxResults=4)
    assert len(page["baselines"]) == 4 and page["nextToken"]
    rest = client.list_baselines(maxResults=4, nextToken=page["nextToken"])["baselines"]
    assert {b["arn"] for b in page["baselines"] + rest} == set(baselines.values())


def test_landing_zone_update_runs_for_its_time_then_conflicts_end(ct):
    client, _, _ = ct
    lzs = client.list_landing_zones()["landingZones"]
    assert len(lzs) == 1
    arn = lzs[0]["arn"]
    assert f":{MANAGEMENT}:landingzone/" in arn
    lz = client.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]
    assert lz["status"] == "ACTIVE" and lz["version"] == "3.3"
    op = client.update_landing_zone(landingZoneIdentifier=arn, version="3.3", manifest=lz["manifest"])["operationIdentifier"]
    assert client.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "PROCESSING"
    details = client.get_landing_zone_operation(operationIdentifier=op)["operationDetails"]
    assert details["status"] == "IN_PROGRESS" and details["operationType"] == "UPDATE"
    listed = client.list_landing_zone_operations(filter={"statuses": ["IN_PROGRESS"]})["landingZoneOperations"]
    assert [o["operationIdentifier"] for o in listed] == [op]
    resp = error_of(client.update_landing_zone, landingZoneIdentifier=arn, version="3.3", manifest=lz["manifest"])
    assert resp["Error"]["Code"] == "ConflictException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ConflictException"
    assert wait_until(lambda: client.get_landing_zone_operation(operationIdentifier=op)
                      ["operationDetails"]["status"] == "SUCCEEDED")
    assert client.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "ACTIVE"
    assert error_of(client.get_landing_zone, landingZoneIdentifier="arn:aws:controltower:us-east-1:123456789012:landingzone/NOPE")[
        "Error"]["Code"] == "ResourceNotFoundException"


def test_registering_an_ou_attaches_guardrails_and_enrolls_accounts(ct):
    client, orgs, root = ct
    ou = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]
    account = orgs.create_account(Email="w@example.com", AccountName="w")["CreateAccountStatus"]["AccountId"]
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou["Id"])
    resp = register(client, ou["Arn"])
    enabled = resp["arn"]
    assert ":enabledbaseline/" in enabled
    names = [p["Name"] for p in orgs.list_policies_for_target(
        TargetId=ou["Id"], Filter="SERVICE_CONTROL_POLICY")["Policies"]]
    assert any(n.startswith("aws-guardrails-") for n in names) and "FullAWSAccess" in names
    under_change = client.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"]
    assert {e["targetIdentifier"] for e in under_change} == {ou["Arn"], f"arn:aws:organizations::{MANAGEMENT}:account/{orgs.describe_organization()['Organization']['Id']}/{account}"}
    child = next(e for e in under_change if e["targetIdentifier"] != ou["Arn"])
    assert child["parentIdentifier"] == enabled
    top_level = client.list_enabled_baselines()["enabledBaselines"]
    assert [e["arn"] for e in top_level] == [enabled]
    assert wait_until(lambda: op_status(client, resp["operationIdentifier"]) == "SUCCEEDED")
    details = client.get_enabled_baseline(enabledBaselineIdentifier=enabled)["enabledBaselineDetails"]
    assert details["statusSummary"] == {"status": "SUCCEEDED", "lastOperationIdentifier": resp["operationIdentifier"]}
    assert client.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"] == []


def test_registration_fails_when_the_ou_has_no_room_for_guardrails(emu, ct):
    client, orgs, root = ct
    emu.post("/_lzemu/settings", {"limits": {"scp_max_attachments": 1}})
    ou = orgs.create_organizational_unit(ParentId=root, Name="full")["OrganizationalUnit"]
    resp = register(client, ou["Arn"])
    assert wait_until(lambda: op_status(client, resp["operationIdentifier"]) == "FAILED")
    op = client.get_baseline_operation(operationIdentifier=resp["operationIdentifier"])["baselineOperation"]
    assert "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED" in op["statusMessage"]


def test_baseline_update_and_reset(ct):
    client, orgs, root = ct
    ou = orgs.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]
    resp = register(client, ou["Arn"])
    assert wait_until(lambda: op_status(client, resp["operationIdentifier"]) == "SUCCEEDED")
    op = client.update_enabled_baseline(enabledBaselineIdentifier=resp["arn"], baselineVersion="4.1",
                                        parameters=[{"key": "k", "value": "v"}])["operationIdentifier"]
    assert client.get_baseline_operation(operationIdentifier=op)["baselineOperation"]["operationType"] == "UPDATE_ENABLED_BASELINE"
    assert wait_until(lambda: op_status(client, op) == "SUCCEEDED")
    assert client.get_enabled_baseline(enabledBaselineIdentifier=resp["arn"])["enabledBaselineDetails"]["baselineVersion"] == "4.1"
    op = client.reset_enabled_baseline(enabledBaselineIdentifier=resp["arn"])["operationIdentifier"]
    assert client.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]})["enabledBaselines"][0]["arn"] == resp["arn"]
    assert wait_until(lambda: op_status(client, op) == "SUCCEEDED")
    assert error_of(client.reset_enabled_baseline, enabledBaselineIdentifier=resp["arn"] + "X")["Error"]["Code"] == \
        "ResourceNotFoundException"


def test_controls_need_a_registered_ou_and_take_time(ct):
    client, orgs, root = ct
    ou = orgs.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]
    assert error_of(client.enable_control, controlIdentifier=CONTROL, targetIdentifier=ou["Arn"])["Error"]["Code"] == \
        "ValidationException"
    reg = register(client, ou["Arn"])
    assert wait_until(lambda: op_status(client, reg["operationIdentifier"]) == "SUCCEEDED")
    resp = client.enable_control(controlIdentifier=CONTROL, targetIdentifier=ou["Arn"])
    op = client.get_control_operation(operationIdentifier=resp["operationIdentifier"])["controlOperation"]
    assert op["status"] == "IN_PROGRESS" and op["operationType"] == "ENABLE_CONTROL"
    assert op["targetIdentifier"] == ou["Arn"] and op["controlIdentifier"] == CONTROL
    running = client.list_control_operations(filter={"statuses": ["IN_PROGRESS"]})["controlOperations"]
    assert [o["operationIdentifier"] for o in running] == [resp["operationIdentifier"]]
    enabled = client.list_enabled_controls(targetIdentifier=ou["Arn"])["enabledControls"]
    assert enabled[0]["statusSummary"]["status"] == "UNDER_CHANGE" and enabled[0]["arn"] == resp["arn"]
    assert wait_until(lambda: client.get_control_operation(operationIdentifier=resp["operationIdentifier"])
                      ["controlOperation"]["status"] == "SUCCEEDED")
    assert client.list_enabled_controls(targetIdentifier=ou["Arn"])["enabledControls"][0]["statusSummary"]["status"] == "SUCCEEDED"
    dis = client.disable_control(controlIdentifier=CONTROL, targetIdentifier=ou["Arn"])["operationIdentifier"]
    assert wait_until(lambda: client.get_control_operation(operationIdentifier=dis)["controlOperation"]["status"] == "SUCCEEDED")
    assert client.list_enabled_controls(targetIdentifier=ou["Arn"])["enabledControls"] == []


def test_staged_ou_registration_makes_control_tower_busy_and_is_logged(emu, ct):
    client, orgs, root = ct
    target = orgs.create_organizational_unit(ParentId=root, Name="staged")["OrganizationalUnit"]
    other = orgs.create_organizational_unit(ParentId=root, Name="other")["OrganizationalUnit"]
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": 1.0})
    staged = emu.post("/_lzemu/controltower/activity", {"kind": "register_ou", "seconds": 2, "target": target["Id"]})
    assert staged["target"] == target["Arn"]
    busy = client.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"]
    assert [e["targetIdentifier"] for e in busy] == [target["Arn"]]
    resp = error_of(client.enable_baseline, baselineIdentifier=baseline_arn(client, "AWSControlTowerBaseline"),
                    baselineVersion="4.0", targetIdentifier=other["Arn"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert resp["Error"]["Code"] == "ConflictException"
    # an Organizations mutation issued now is a violation
    orgs.create_organizational_unit(ParentId=root, Name="racer")
    log = emu.log()
    rejected = [e for e in log if e["operation"] == "EnableBaseline"]
    assert rejected == [dict(rejected[0], status=409, error_code="ConflictException", ct_busy=True, mutating=True)]
    violations = emu.violations()
    # the refused EnableBaseline (a Control Tower mutation) and the OU creation
    assert [v["kind"] for v in violations] == ["mutation_while_controltower_busy"] * 2
    assert "controltower:EnableBaseline" in violations[0]["detail"] and "status 409" in violations[0]["detail"]
    assert "CreateOrganizationalUnit" in violations[1]["detail"]
    assert emu.get("/_lzemu/controltower")["busy"] is True
    assert wait_until(lambda: not emu.get("/_lzemu/controltower")["busy"])
    assert client.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]})["enabledBaselines"] == []
    register(client, other["Arn"])


@pytest.mark.parametrize("kind,visible", [
    ("landing_zone_update", "landing_zone"),
    ("control_operation", "control"),
    ("account_factory", "status"),
])
def test_other_staged_activities(emu, ct, kind, visible):
    client, orgs, root = ct
    emu.post("/_lzemu/controltower/activity", {"kind": kind, "seconds": 1.5})
    if visible == "landing_zone":
        arn = client.list_landing_zones()["landingZones"][0]["arn"]
        assert client.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "PROCESSING"
    elif visible == "control":
        assert len(client.list_control_operations(filter={"statuses": ["IN_PROGRESS"]})["controlOperations"]) == 1
    assert emu.get("/_lzemu/controltower")["busy"] is True
    orgs.list_roots()
    assert emu.log()[-1]["ct_busy"] is True
    assert wait_until(lambda: not emu.get("/_lzemu/controltower")["busy"])
    orgs.list_roots()
    assert emu.log()[-1]["ct_busy"] is False
    assert emu.violations() == []


def test_member_accounts_are_refused(emu, ct):
    client, orgs, _ = ct
    account = orgs.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
    resp = error_of(emu.client("controltower", account=account).list_landing_zones)
    assert resp["Error"]["Code"] == "AccessDeniedException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_throttled_control_tower_answers_429(emu, ct):
    client, _, _ = ct
    emu.post("/_lzemu/settings", {"rate_limits": {"controltower:ListBaselines": {"rate": 0.01, "burst": 1}}})
    client.list_baselines()
    resp = error_of(client.list_baselines)
    assert resp["Error"]["Code"] == "ThrottlingException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429



def test_operation_times_are_iso8601_strings_as_the_model_declares(emu, ct):
    """boto3 also accepts epoch numbers here; the Rust SDK insists on the model's iso8601."""
    import json

    client, orgs, root = ct
    ou = orgs.create_organizational_unit(ParentId=root, Name="t")["OrganizationalUnit"]
    resp = register(client, ou["Arn"])
    raw = {}

    def keep(http_response, **_):
        raw["body"] = json.loads(http_response.content)

    client.meta.events.register("after-call.controltower.GetBaselineOperation", keep)
    client.get_baseline_operation(operationIdentifier=resp["operationIdentifier"])
    start = raw["body"]["baselineOperation"]["startTime"]
    assert isinstance(start, str) and start.endswith("Z") and "T" in start


def test_home_region_follows_the_first_call_or_the_setting(emu, org):
    tokyo = emu.client("controltower", region="ap-northeast-1")
    arn = tokyo.list_landing_zones()["landingZones"][0]["arn"]
    assert arn.startswith("arn:aws:controltower:ap-northeast-1:")
    assert tokyo.list_baselines()["baselines"][0]["arn"].startswith("arn:aws:controltower:ap-northeast-1::baseline/")
    emu.post("/_lzemu/reset")
    emu.client("organizations").create_organization(FeatureSet="ALL")
    emu.post("/_lzemu/settings", {"controltower_home_region": "eu-west-1"})
    emu.post("/_lzemu/controltower/activity", {"kind": "landing_zone_update", "seconds": 0.1})
    assert tokyo.list_landing_zones()["landingZones"][0]["arn"].startswith("arn:aws:controltower:eu-west-1:")


def test_no_landing_zone_when_switched_off(emu, org):
    emu.post("/_lzemu/settings", {"controltower_landing_zone": False})
    client = emu.client("controltower")
    assert client.list_landing_zones()["landingZones"] == []
    resp = error_of(client.get_landing_zone, landingZoneIdentifier="arn:aws:controltower:us-east-1:123456789012:landingzone/X")
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_landing_zone_create_reset_delete_and_tags(emu, org):
    emu.post("/_lzemu/settings", {"controltower_landing_zone": False, "controltower_operation_seconds": 0.3})
    client = emu.client("controltower")
    assert client.list_landing_zones()["landingZones"] == []
    created = client.create_landing_zone(version="3.3", manifest={"governedRegions": ["us-east-1"]},
                                         tags={"owner": "platform"})
    arn = created["arn"]
    assert client.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["status"] == "PROCESSING"
    assert error_of(client.create_landing_zone, version="3.3", manifest={})["Error"]["Code"] == "ConflictException"
    assert wait_until(lambda: client.get_landing_zone_operation(operationIdentifier=created["operationIdentifier"])
                      ["operationDetails"]["status"] == "SUCCEEDED")
    assert error_of(client.create_landing_zone, version="3.3", manifest={})["Error"]["Code"] == "ValidationException"
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "platform"}
    client.tag_resource(resourceArn=arn, tags={"env": "prod"})
    client.untag_resource(resourceArn=arn, tagKeys=["owner"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    reset = client.reset_landing_zone(landingZoneIdentifier=arn)["operationIdentifier"]
    assert client.get_landing_zone_operation(operationIdentifier=reset)["operationDetails"]["operationType"] == "RESET"
    assert wait_until(lambda: not emu.get("/_lzemu/controltower")["busy"])
    deleted = client.delete_landing_zone(landingZoneIdentifier=arn)["operationIdentifier"]
    assert wait_until(lambda: client.get_landing_zone_operation(operationIdentifier=deleted)
                      ["operationDetails"]["status"] == "SUCCEEDED")
    assert client.list_landing_zones()["landingZones"] == []


def test_update_and_reset_enabled_control(emu, ct):
    client, orgs, root = ct
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": 0.3})
    ou = orgs.create_organizational_unit(ParentId=root, Name="c")["OrganizationalUnit"]
    reg = register(client, ou["Arn"])
    assert wait_until(lambda: op_status(client, reg["operationIdentifier"]) == "SUCCEEDED")
    enabled = client.enable_control(controlIdentifier=CONTROL, targetIdentifier=ou["Arn"])
    assert wait_until(lambda: not emu.get("/_lzemu/controltower")["busy"])
    op = client.update_enabled_control(enabledControlIdentifier=enabled["arn"],
                                       parameters=[{"key": "AllowedRegions", "value": ["us-east-1"]}])["operationIdentifier"]
    got = client.get_control_operation(operationIdentifier=op)["controlOperation"]
    assert got["operationType"] == "UPDATE_ENABLED_CONTROL" and got["status"] == "IN_PROGRESS"
    assert wait_until(lambda: not emu.get("/_lzemu/controltower")["busy"])
    details = client.get_enabled_control(enabledControlIdentifier=enabled["arn"])["enabledControlDetails"]
    assert details["parameters"] == [{"key": "AllowedRegions", "value": ["us-east-1"]}]
    op = client.reset_enabled_control(enabledControlIdentifier=enabled["arn"])["operationIdentifier"]
    assert client.get_control_operation(operationIdentifier=op)["controlOperation"]["operationType"] == "RESET_ENABLED_CONTROL"
    client.tag_resource(resourceArn=enabled["arn"], tags={"k": "v"})
    assert client.list_tags_for_resource(resourceArn=enabled["arn"])["tags"] == {"k": "v"}
