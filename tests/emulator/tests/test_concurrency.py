"""Per-resource locks: independent requests overlap, one resource's changes stay
in order (and so do the log and the invariant checks); fail-next after handling."""

import threading
import time

import botocore.exceptions
import pytest

from lzemu.locks import Domains, LockOrderError

FULL_AWS_ACCESS = "p-FullAWSAccess"


def run_together(*calls):
    """Start the calls at the same moment on threads; (wall seconds, results)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def work(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as err:  # returned and asserted by the caller
            results[i] = err

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(calls)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return time.monotonic() - started, results


def test_latency_sleeps_outside_every_lock(emu, org):
    orgs, _ = org
    iam = emu.client("iam")
    orgs.list_roots(), iam.list_roles()  # warm up (moto loads modules on first use)
    emu.post("/_lzemu/settings", {"latency_ms": {"organizations:ListRoots": 300, "organizations:DescribeOrganization": 300}})
    other = emu.client("organizations")
    wall, results = run_together(orgs.list_roots, other.describe_organization)
    assert not any(isinstance(r, Exception) for r in results)
    assert wall < 0.55, f"two 300 ms calls to one organization took {wall:.3f}s"


def test_work_inside_locks_overlaps_across_domains_and_serializes_within_one(emu, org):
    orgs, _ = org
    ct = emu.client("controltower")
    s3_a = emu.client("s3", account="111111111111")
    s3_b = emu.client("s3", account="222222222222")
    for warm in (orgs.list_roots, orgs.describe_organization, ct.list_baselines, s3_a.list_buckets, s3_b.list_buckets):
        warm()
    emu.post("/_lzemu/settings", {"hold_ms": {"organizations:ListRoots": 300, "organizations:DescribeOrganization": 300,
                                              "controltower:ListBaselines": 300, "s3:GET /": 300}})
    different, results = run_together(orgs.list_roots, ct.list_baselines)
    assert not any(isinstance(r, Exception) for r in results)
    accounts, results = run_together(s3_a.list_buckets, s3_b.list_buckets)
    assert not any(isinstance(r, Exception) for r in results)
    same, results = run_together(orgs.list_roots, emu.client("organizations").describe_organization)
    assert not any(isinstance(r, Exception) for r in results)
    assert different < 0.55, f"Organizations + Control Tower took {different:.3f}s"
    assert accounts < 0.55, f"S3 in two accounts took {accounts:.3f}s"
    assert same >= 0.6, f"two calls on one organization overlapped ({same:.3f}s)"
    print(f"overlap: org+ct {different:.3f}s, s3 x2 accounts {accounts:.3f}s; same org {same:.3f}s")


def test_one_organizations_changes_stay_in_order_in_the_log_and_the_checker(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"hold_ms": {"organizations:CreateOrganizationalUnit": 10,
                                              "organizations:DetachPolicy": 10},
                                  "limits": {"scp_min_attachments": 0}})
    created = []
    lock = threading.Lock()

    def creator(n):
        def call():
            client = emu.client("organizations")
            for i in range(3):
                resp = client.create_organizational_unit(ParentId=root, Name=f"t{n}-{i}")
                with lock:
                    created.append((int(resp["ResponseMetadata"]["HTTPHeaders"]["x-lzemu-seq"]),
                                    resp["OrganizationalUnit"]["Id"]))
                client.list_roots()
        return call

    wall, results = run_together(*[creator(n) for n in range(6)])
    assert not any(isinstance(r, Exception) for r in results)
    in_moto = [o["Id"] for o in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]]
    assert in_moto == [ou for _, ou in sorted(created)], "moto's order differs from the order of the log's seq"
    log = emu.log()
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert [e["seq"] for e in log if e["operation"] == "CreateOrganizationalUnit"] == sorted(s for s, _ in created)

    detached = {}

    def detacher(ou):
        def call():
            resp = emu.client("organizations").detach_policy(PolicyId=FULL_AWS_ACCESS, TargetId=ou)
            detached[ou] = int(resp["ResponseMetadata"]["HTTPHeaders"]["x-lzemu-seq"])
        return call

    _, results = run_together(*[detacher(ou) for ou in in_moto])
    assert not any(isinstance(r, Exception) for r in results)
    violations = [v for v in emu.violations() if v["kind"] == "target_without_scp"]
    assert sorted(v["seq"] for v in violations) == sorted(detached.values())
    for violation in violations:
        ou = next(o for o, seq in detached.items() if seq == violation["seq"])
        assert ou in violation["detail"]


def test_locks_refuse_a_lower_rank_while_holding_a_higher_one():
    domains = Domains()
    with domains.hold("organizations", "stacksets"):
        with domains.hold("stacksets", "detective"):  # re-entrant and upward: fine
            assert domains.held() == ["organizations", "stacksets", "detective"]
    with domains.hold("stacksets"):
        with pytest.raises(LockOrderError):
            with domains.hold("organizations"):
                pass
    assert domains.held() == []


# ------------------------------------------------------ fail-next after handling
def test_fail_after_handling_changes_state_but_answers_an_error(emu, org):
    orgs, root = org
    emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit", "when": "after",
                                   "code": "ServiceException", "status": 500})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orgs.create_organizational_unit(ParentId=root, Name="lost-answer")
    assert err.value.response["Error"]["Code"] == "ServiceException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    names = [o["Name"] for o in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]]
    assert names == ["lost-answer"]
    entry = next(e for e in emu.log() if e["operation"] == "CreateOrganizationalUnit")
    assert (entry["mutating"], entry["status"], entry["error_code"], entry["fault"]) == \
        (True, 500, "ServiceException", "fail-next:after")
    # an SDK that retries sees its own change on the retry
    emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit", "when": "after",
                                   "code": "ServiceException"})
    patient = emu.client("organizations", retries=3)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        patient.create_organizational_unit(ParentId=root, Name="retried")
    assert err.value.response["Error"]["Code"] == "DuplicateOrganizationalUnitException"


def test_a_scheduled_failure_can_let_the_first_calls_pass(emu, org):
    orgs, root = org
    emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit",
                                   "code": "AccessDeniedException", "status": 400, "skip": 1})
    orgs.create_organizational_unit(ParentId=root, Name="first")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orgs.create_organizational_unit(ParentId=root, Name="second")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    orgs.create_organizational_unit(ParentId=root, Name="third")
    names = sorted(o["Name"] for o in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"])
    assert names == ["first", "third"]


def test_fail_after_handling_in_control_tower(emu, org):
    orgs, root = org
    ct = emu.client("controltower")
    ou = orgs.create_organizational_unit(ParentId=root, Name="w")["OrganizationalUnit"]
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    emu.post("/_lzemu/fail-next", {"operation": "controltower:EnableBaseline", "when": "after",
                                   "code": "ServiceUnavailableException", "status": 503})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0", targetIdentifier=ou["Arn"])
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    enabled = ct.list_enabled_baselines(filter={"targetIdentifiers": [ou["Arn"]]})["enabledBaselines"]
    assert [e["statusSummary"]["status"] for e in enabled] == ["UNDER_CHANGE"]


def test_closed_connection_before_and_after_handling(emu, org):
    orgs, root = org
    emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit", "when": "after",
                                   "close_connection": True})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        orgs.create_organizational_unit(ParentId=root, Name="made")
    emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit", "close_connection": True})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        orgs.create_organizational_unit(ParentId=root, Name="never")
    names = [o["Name"] for o in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]]
    assert names == ["made"]
    entries = [e for e in emu.log() if e["operation"] == "CreateOrganizationalUnit"]
    assert [(e["status"], e["fault"]) for e in entries] == [(0, "connection-closed")] * 2
    orgs.list_roots()  # the server carries on


def test_lock_order_holds_when_a_pending_account_completes_inside_a_detective_call(emu, org):
    """GuardDuty's admin calls hold Organizations and moto locks; an account whose
    creation completes during the call deploys stack sets (a lower-ranked lock),
    so that lock is taken up front."""
    orgs, _ = org
    admin = orgs.create_account(Email="sec@example.com", AccountName="sec")["CreateAccountStatus"]["AccountId"]
    emu.post("/_lzemu/settings", {"account_creation_seconds": 60})
    orgs.create_account(Email="late@example.com", AccountName="late")
    emu.post("/_lzemu/clock", {"advance": 61})
    emu.client("guardduty").enable_organization_admin_account(AdminAccountId=admin)
    assert "late" in [a["Name"] for a in orgs.list_accounts()["Accounts"]]
