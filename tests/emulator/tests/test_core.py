"""The wrapper itself: start-up, log, settings, latency, rate limits, faults, reset."""

import concurrent.futures
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from conftest import HERE, MANAGEMENT


def test_start_script_prints_port_and_serves_quickly(tmp_path):
    port_file = tmp_path / "port"
    started = time.monotonic()
    proc = subprocess.Popen([str(HERE / "start.sh"), "--port", "0", "--port-file", str(port_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        elapsed = time.monotonic() - started
        assert line.startswith("LZEMU_PORT=")
        port = int(line.split("=", 1)[1])
        assert port > 0
        assert port_file.read_text().strip() == str(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_lzemu/health") as resp:
            assert json.load(resp) == {"ok": True}
        assert elapsed < 3.0, f"warm start took {elapsed:.2f}s"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_log_records_service_operation_account_and_result(emu):
    orgs = emu.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orgs.describe_policy(PolicyId="p-doesnotexist")
    assert err.value.response["Error"]["Code"] == "PolicyNotFoundException"
    emu.client("sts").get_caller_identity()
    emu.client("cloudformation").list_stack_sets()

    log = emu.log()
    ops = [(e["service"], e["operation"], e["mutating"], e["status"], e["error_code"]) for e in log]
    assert ops == [
        ("organizations", "CreateOrganization", True, 200, None),
        ("organizations", "DescribePolicy", False, 400, "PolicyNotFoundException"),
        ("sts", "GetCallerIdentity", False, 200, None),
        ("cloudformation", "ListStackSets", False, 200, None),
    ]
    assert all(e["account"] == MANAGEMENT and e["ct_busy"] is False for e in log)
    assert log[0]["time"].endswith("Z")
    assert [e["seq"] for e in log] == [1, 2, 3, 4]  # a reset restarts seq
    assert [e["classification"] for e in log] == ["mutating", "read", "read", "read"]
    assert all(e["fault"] is None for e in log)

    emu.post("/_lzemu/log/clear")
    assert emu.log() == []


def test_assume_role_switches_account(emu, org):
    orgs, _ = org
    account = orgs.create_account(Email="dev@example.com", AccountName="dev")[
        "CreateAccountStatus"]["AccountId"]
    creds = emu.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="lzctl")["Credentials"]
    sts = emu.client("sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                     token=creds["SessionToken"])
    assert sts.get_caller_identity()["Account"] == account
    assert emu.client("sts", account=account).get_caller_identity()["Account"] == account
    assert [e["account"] for e in emu.log()][-2:] == [account, account]


def test_settings_deep_merge_and_reset(emu):
    before = emu.get("/_lzemu/settings")
    assert before["limits"]["scp_max_size"] == 10240
    assert before["rate_limits"] == {"default": None}  # the test session switched them off
    after = emu.post("/_lzemu/settings", {"limits": {"scp_max_attachments": 5},
                                          "latency_ms": {"organizations:ListRoots": 5}})
    assert after["limits"]["scp_max_attachments"] == 5
    assert after["limits"]["scp_max_size"] == 10240
    assert after["latency_ms"] == {"default": 0, "organizations:ListRoots": 5}
    emu.post("/_lzemu/reset")
    assert emu.get("/_lzemu/settings") == before


def test_startup_throttling_limits_policy_requests_in_progress_not_rates(tmp_path):
    from lzemu.settings import Settings

    limits = Settings().get("in_progress_limits")
    assert limits["organizations:AttachPolicy"] == 2
    assert limits["organizations:ListTargetsForPolicy"] == 4
    # AWS publishes no rates for Organizations: no token bucket is on by default.
    assert Settings().get("rate_limits") == {"default": None}
    assert Settings({"in_progress_limits": None}).get("in_progress_limits") == {"default": None}
    trimmed = Settings({"in_progress_limits": {"organizations:AttachPolicy": None}}).get("in_progress_limits")
    assert "organizations:AttachPolicy" not in trimmed
    assert "organizations:DetachPolicy" in trimmed


def test_a_burst_over_the_requests_in_progress_is_refused_as_organizations_does(emu, org):
    orgs, root = org
    policy = orgs.create_policy(Name="p", Description="d", Type="SERVICE_CONTROL_POLICY",
                                Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}')["Policy"]["PolicySummary"]["Id"]
    emu.post("/_lzemu/settings", {"in_progress_limits": {"organizations:ListTargetsForPolicy": 2},
                                  "latency_ms": {"organizations:ListTargetsForPolicy": 1000}})
    barrier = threading.Barrier(5)

    def one_call(_):
        client = emu.client("organizations")  # one attempt: botocore does not retry
        barrier.wait()
        try:
            client.list_targets_for_policy(PolicyId=policy)
            return ("ok", None, None)
        except botocore.exceptions.ClientError as err:
            return (err.response["Error"]["Code"], err.response["Error"]["Message"],
                    err.response["ResponseMetadata"]["HTTPStatusCode"])

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(one_call, range(5)))
    codes = [a[0] for a in answers]
    assert codes.count("ok") == 2, answers
    refused = [a for a in answers if a[0] != "ok"]
    assert {a[0] for a in refused} == {"TooManyRequestsException"}
    assert all(a[2] == 400 for a in refused)
    assert all("another request is already in progress" in a[1] for a in refused)
    # One at a time is never refused: the limit is on requests in progress, not a rate.
    emu.post("/_lzemu/settings", {"latency_ms": {"organizations:ListTargetsForPolicy": 0}})
    for _ in range(20):
        orgs.list_targets_for_policy(PolicyId=policy)
    log = [e for e in emu.log() if e["operation"] == "ListTargetsForPolicy"]
    assert sum(e["error_code"] == "TooManyRequestsException" for e in log) == 3


def test_latency_delays_one_operation(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/settings", {"latency_ms": {"organizations:ListRoots": 300}})
    started = time.monotonic()
    orgs.list_roots()
    slow = time.monotonic() - started
    started = time.monotonic()
    orgs.describe_organization()
    fast = time.monotonic() - started
    assert slow >= 0.3
    assert fast < 0.3


def test_burst_of_attach_policy_is_throttled_with_retryable_error(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"rate_limits": {"organizations:AttachPolicy": {"rate": 2, "burst": 3}}})
    ous = [orgs.create_organizational_unit(ParentId=root, Name=f"ou{i}")["OrganizationalUnit"]["Id"]
           for i in range(20)]
    policy = orgs.create_policy(Name="p", Description="d", Type="SERVICE_CONTROL_POLICY",
                                Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}')["Policy"]["PolicySummary"]["Id"]
    codes = []
    retryable = []
    for ou in ous:
        try:
            orgs.attach_policy(PolicyId=policy, TargetId=ou)
            codes.append("ok")
        except botocore.exceptions.ClientError as err:
            codes.append(err.response["Error"]["Code"])
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            # botocore's own classification of retryable throttling errors
            from botocore.retries.standard import ThrottledRetryableChecker
            from botocore.retries.standard import RetryContext

            ctx = RetryContext(attempt_number=1, parsed_response=err.response)
            retryable.append(ThrottledRetryableChecker().is_retryable(ctx))
    assert codes.count("ok") >= 3
    assert codes.count("TooManyRequestsException") >= 10
    assert set(codes) == {"ok", "TooManyRequestsException"}
    assert all(retryable) and retryable
    log = [e for e in emu.log() if e["operation"] == "AttachPolicy"]
    assert sum(e["error_code"] == "TooManyRequestsException" for e in log) == codes.count("TooManyRequestsException")


def test_sdk_retries_through_throttling(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"rate_limits": {"organizations:ListRoots": {"rate": 20, "burst": 1}}})
    patient = emu.client("organizations", retries=10)
    for _ in range(5):
        assert patient.list_roots()["Roots"][0]["Id"] == root
    throttled = [e for e in emu.log() if e["error_code"] == "TooManyRequestsException"]
    assert throttled, "expected at least one throttled attempt the SDK retried"


def test_cloudformation_throttling_is_query_protocol_throttling(emu):
    emu.post("/_lzemu/settings", {"rate_limits": {"cloudformation:ListStackSets": {"rate": 0.01, "burst": 1}}})
    cfn = emu.client("cloudformation")
    cfn.list_stack_sets()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.list_stack_sets()
    assert err.value.response["Error"]["Code"] == "Throttling"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_random_faults_are_seeded_and_counted(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/settings", {"faults": {"throttle_rate": 0.3, "server_error_rate": 0.3, "seed": 7}})

    def run():
        results = []
        for _ in range(30):
            try:
                orgs.list_roots()
                results.append("ok")
            except botocore.exceptions.ClientError as err:
                results.append(err.response["Error"]["Code"])
        return results

    first = run()
    emu.post("/_lzemu/settings", {"faults": {"seed": 8}})
    emu.post("/_lzemu/settings", {"faults": {"seed": 7}})
    second = run()
    assert first == second
    assert {"ok", "TooManyRequestsException", "ServiceException"} <= set(first)
    emu.post("/_lzemu/settings", {"faults": {"throttle_rate": 0, "server_error_rate": 0}})
    orgs.list_roots()


def test_reset_clears_moto_state_and_log(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/reset")
    assert emu.log() == []
    with pytest.raises(botocore.exceptions.ClientError) as err:
        orgs.describe_organization()
    assert err.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"


def test_other_moto_services_pass_through(emu, org):
    orgs, _ = org
    iam = emu.client("iam")
    iam.create_role(RoleName="lzctl-deployer", AssumeRolePolicyDocument="{}")
    assert iam.get_role(RoleName="lzctl-deployer")["Role"]["RoleName"] == "lzctl-deployer"
    trail = emu.client("cloudtrail")
    emu.client("s3").create_bucket(Bucket="org-trail-logs")
    trail.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsOrganizationTrail=True)
    assert trail.describe_trails()["trailList"][0]["IsOrganizationTrail"] is True
    config = emu.client("config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config"})
    assert [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]] == ["default"]
    gd = emu.client("guardduty")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    assert gd.list_detectors()["DetectorIds"] == [detector]
    sh = emu.client("securityhub")
    sh.enable_security_hub()
    assert "HubArn" in sh.describe_hub()
    ops = {(e["service"], e["operation"]) for e in emu.log()}
    assert {("iam", "CreateRole"), ("cloudtrail", "CreateTrail"), ("config", "PutConfigurationRecorder"),
            ("guardduty", "CreateDetector"), ("guardduty", "ListDetectors"),
            ("securityhub", "EnableSecurityHub")} <= ops


def test_parallel_clients_are_served_consistently(emu, org):
    """The server is threaded; the emulator's lock keeps moto and its own state consistent."""
    import threading

    orgs, root = org
    errors = []

    def worker(n):
        client = emu.client("organizations")
        try:
            ou = client.create_organizational_unit(ParentId=root, Name=f"par-{n}")["OrganizationalUnit"]["Id"]
            for _ in range(10):
                client.list_organizational_units_for_parent(ParentId=root)
                client.list_policies_for_target(TargetId=ou, Filter="SERVICE_CONTROL_POLICY")
            emu.client("sts").get_caller_identity()
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    names = sorted(o["Name"] for o in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"])
    assert names == [f"par-{n}" for n in range(8)]
    log = emu.log()
    assert len(log) == 2 + 8 * 22 + 1
    assert all(e["status"] == 200 for e in log)


def test_chunked_request_bodies_are_read(emu, org):
    """Some SDKs stream request bodies with Transfer-Encoding: chunked."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    conn.putrequest("POST", "/")
    for key, value in {
        "X-Amz-Target": "AWSOrganizationsV20161128.DescribePolicy",
        "Content-Type": "application/x-amz-json-1.1",
        "Transfer-Encoding": "chunked",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/organizations/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    }.items():
        conn.putheader(key, value)
    conn.endheaders()
    body = b'{"PolicyId": "p-FullAWSAccess"}'
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["Policy"]["PolicySummary"]["Name"] == "FullAWSAccess"


def test_fail_next_injects_a_chosen_error_a_chosen_number_of_times(emu, org):
    orgs, root = org
    pending = emu.post("/_lzemu/fail-next", {"operation": "organizations:CreateOrganizationalUnit",
                                             "code": "ConcurrentModificationException", "count": 2})
    assert pending == [{"operation": "organizations:CreateOrganizationalUnit", "code": "ConcurrentModificationException",
                        "status": 400, "message": "Injected ConcurrentModificationException", "count": 2,
                        "skip": 0, "when": "before", "close_connection": False}]
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            orgs.create_organizational_unit(ParentId=root, Name="x")
        assert err.value.response["Error"]["Code"] == "ConcurrentModificationException"
    orgs.create_organizational_unit(ParentId=root, Name="x")
    assert emu.get("/_lzemu/fail-next") == []
    # other protocols get it in their own format
    emu.post("/_lzemu/fail-next", {"operation": "cloudformation:ListStackSets", "code": "InternalFailure", "status": 500})
    with pytest.raises(botocore.exceptions.ClientError) as err:
        emu.client("cloudformation").list_stack_sets()
    assert err.value.response["Error"]["Code"] == "InternalFailure"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    codes = [e["error_code"] for e in emu.log() if e["operation"] in ("CreateOrganizationalUnit", "ListStackSets")]
    assert codes == ["ConcurrentModificationException", "ConcurrentModificationException", None, "InternalFailure"]
    with pytest.raises(urllib.error.HTTPError) as bad:
        emu.post("/_lzemu/fail-next", {"code": "X"})
    assert bad.value.code == 400


def test_only_the_seam_touches_moto_internals():
    """motoseam.py is the one module that imports moto or names its models."""
    import re

    pattern = re.compile(r"^\s*(from|import)\s+moto\b|_backends\b|\bFake[A-Z]\w+|attached_policies|"
                         r"master_accounts|moto_api_backend", re.M)
    offenders = {}
    for path in sorted((HERE / "lzemu").glob("*.py")):
        if path.name == "motoseam.py":
            continue
        hits = pattern.findall(path.read_text())
        if hits:
            offenders[path.name] = hits
    assert offenders == {}
    assert pattern.search((HERE / "lzemu" / "motoseam.py").read_text())


def test_log_entries_span_the_call_as_the_client_saw_it(emu, org):
    emu.post("/_lzemu/settings", {"latency_ms": {"organizations:ListRoots": 200}})
    orgs, _ = org
    emu.post("/_lzemu/log/clear")
    orgs.list_roots()
    entry = [e for e in emu.get("/_lzemu/log") if e["operation"] == "ListRoots"][0]
    assert entry["end"] - entry["start"] >= 0.2
    assert entry["end"] >= entry["start"]
