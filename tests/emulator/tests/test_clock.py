"""The emulator clock: GET/POST /_lzemu/clock, and everything timed follows it."""

import time
import urllib.error

import botocore.exceptions
import pytest

DAY = 86400.0


def test_clock_reports_advances_sets_freezes_and_resets(emu):
    start = emu.get("/_lzemu/clock")
    assert set(start) == {"now", "offset", "frozen"}
    assert abs(start["now"] - time.time()) < 5 and abs(start["offset"]) < 1 and start["frozen"] is False
    moved = emu.post("/_lzemu/clock", {"advance": 600})
    assert 599 < moved["offset"] < 601
    frozen = emu.post("/_lzemu/clock", {"freeze": True})
    time.sleep(0.05)
    assert emu.get("/_lzemu/clock")["now"] == frozen["now"] and frozen["frozen"] is True
    assert emu.post("/_lzemu/clock", {"advance": 10})["now"] == frozen["now"] + 10
    assert emu.post("/_lzemu/clock", {"set": 1893456000.0})["now"] == 1893456000.0
    thawed = emu.post("/_lzemu/clock", {"freeze": False})
    assert thawed["frozen"] is False and thawed["now"] >= 1893456000.0
    for bad in ({"advance": -1}, {"rewind": 5}):
        with pytest.raises(urllib.error.HTTPError) as err:
            emu.post("/_lzemu/clock", bad)
        assert err.value.code == 400
    emu.post("/_lzemu/reset")
    assert abs(emu.get("/_lzemu/clock")["offset"]) < 1


def test_a_two_hour_ou_registration_finishes_when_the_clock_moves(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": 7200})
    ct = emu.client("controltower")
    ou = orgs.create_organizational_unit(ParentId=root, Name="big")["OrganizationalUnit"]
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    op = ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0",
                            targetIdentifier=ou["Arn"])["operationIdentifier"]
    assert ct.get_baseline_operation(operationIdentifier=op)["baselineOperation"]["status"] == "IN_PROGRESS"
    emu.post("/_lzemu/clock", {"advance": 7199})
    assert ct.get_baseline_operation(operationIdentifier=op)["baselineOperation"]["status"] == "IN_PROGRESS"
    emu.post("/_lzemu/clock", {"advance": 2})
    done = ct.get_baseline_operation(operationIdentifier=op)["baselineOperation"]
    assert done["status"] == "SUCCEEDED"
    assert (done["endTime"] - done["startTime"]).total_seconds() == pytest.approx(7200, abs=0.01)
    assert emu.get("/_lzemu/controltower")["busy"] is False


def test_stackset_operations_and_account_creation_follow_the_clock(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"stackset_operation_seconds": 3600, "account_creation_seconds": 900})
    status = orgs.create_account(Email="later@example.com", AccountName="later")["CreateAccountStatus"]
    assert status["State"] == "IN_PROGRESS"
    cfn = emu.client("cloudformation")
    cfn.create_stack_set(StackSetName="s", TemplateBody="{}")
    op = cfn.create_stack_instances(StackSetName="s", Accounts=["111111111111"],
                                    Regions=["us-east-1"])["OperationId"]
    assert cfn.describe_stack_set_operation(StackSetName="s", OperationId=op)["StackSetOperation"]["Status"] == "RUNNING"
    emu.post("/_lzemu/clock", {"advance": 3601})
    described = cfn.describe_stack_set_operation(StackSetName="s", OperationId=op)["StackSetOperation"]
    assert described["Status"] == "SUCCEEDED"
    created = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert created["State"] == "SUCCEEDED"


def test_timestamps_in_answers_follow_the_clock(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/clock", {"advance": 30 * DAY})
    expected = time.time() + 30 * DAY
    account = orgs.create_account(Email="future@example.com", AccountName="future")["CreateAccountStatus"]["AccountId"]
    joined = orgs.describe_account(AccountId=account)["Account"]["JoinedTimestamp"].timestamp()
    assert abs(joined - expected) < 60
    ct = emu.client("controltower")
    arn = ct.list_landing_zones()["landingZones"][0]["arn"]
    manifest = ct.get_landing_zone(landingZoneIdentifier=arn)["landingZone"]["manifest"]
    op = ct.update_landing_zone(landingZoneIdentifier=arn, version="3.3", manifest=manifest)["operationIdentifier"]
    started = ct.get_landing_zone_operation(operationIdentifier=op)["operationDetails"]["startTime"].timestamp()
    assert abs(started - expected) < 60
    log_time = emu.log()[-1]["time"]
    assert log_time.startswith(time.strftime("%Y-%m-%d", time.gmtime(expected)))


def test_rate_limit_buckets_refill_with_the_clock(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/settings", {"rate_limits": {"organizations:ListRoots": {"rate": 0.001, "burst": 1}}})
    emu.post("/_lzemu/clock", {"freeze": True})
    orgs.list_roots()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orgs.list_roots()
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    emu.post("/_lzemu/clock", {"advance": 1000})
    orgs.list_roots()
