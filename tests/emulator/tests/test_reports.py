"""What lzctl's reports read beyond the detective family: Config advanced
queries through an aggregator (AWS::Config::ResourceCompliance over the seeded
results), and S3 conditional writes (If-None-Match: * / If-Match: <ETag>) that
keep report history, notification state and audit logs safe from overlapping
runs: moto's own, proven here through the emulator's wrapper."""

import json
import threading

import botocore.exceptions
import pytest

HOME = "ap-northeast-1"
OTHER = "ap-northeast-3"
QUERY = ("SELECT accountId, awsRegion, configuration.targetResourceId, configuration.targetResourceType, "
         "configuration.configRuleList WHERE resourceType = 'AWS::Config::ResourceCompliance' "
         "AND configuration.complianceType = 'NON_COMPLIANT'")


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


@pytest.fixture
def audit(emu, org):
    orgs, root = org
    ids = {}
    for name in ("audit", "p1", "d1"):
        ids[name] = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
    for principal in ("config-multiaccountsetup.amazonaws.com", "config.amazonaws.com"):
        orgs.enable_aws_service_access(ServicePrincipal=principal)
        orgs.register_delegated_administrator(AccountId=ids["audit"], ServicePrincipal=principal)
    client = emu.client("config", account=ids["audit"], region=HOME)
    client.put_configuration_aggregator(ConfigurationAggregatorName="org", OrganizationAggregationSource={
        "RoleArn": f"arn:aws:iam::{ids['audit']}:role/aggregator", "AwsRegions": [HOME, OTHER]})
    return client, ids


def test_advanced_query_lists_non_compliant_resources_with_their_rules(emu, audit):
    client, ids = audit
    results = [
        {"rule": "s3-read", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": "b1", "compliance": "NON_COMPLIANT"},
        {"rule": "s3-write", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": "b1", "compliance": "COMPLIANT"},
        {"rule": "s3-read", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": "b2", "compliance": "COMPLIANT"},
        {"rule": "root-mfa", "account": ids["d1"], "region": OTHER, "resource_type": "AWS::::Account",
         "resource_id": ids["d1"], "compliance": "NON_COMPLIANT"},
        {"rule": "s3-read", "account": ids["d1"], "region": "eu-west-1", "resource_type": "AWS::S3::Bucket",
         "resource_id": "outside", "compliance": "NON_COMPLIANT"},
    ]
    emu.post("/_lzemu/detective/compliance", {"results": results})
    out = client.select_aggregate_resource_config(Expression=QUERY, ConfigurationAggregatorName="org")
    rows = sorted((json.loads(r) for r in out["Results"]), key=lambda r: r["accountId"] + r["awsRegion"])
    assert [f["Name"] for f in out["QueryInfo"]["SelectFields"]][:2] == ["accountId", "awsRegion"]
    by_resource = {(r["accountId"], r["awsRegion"], r["configuration"]["targetResourceId"]): r for r in rows}
    # b2 is compliant, eu-west-1 is outside the aggregator: neither is listed
    assert set(by_resource) == {(ids["p1"], HOME, "b1"), (ids["d1"], OTHER, ids["d1"])}
    b1 = by_resource[(ids["p1"], HOME, "b1")]
    assert b1["configuration"]["targetResourceType"] == "AWS::S3::Bucket"
    assert sorted((x["configRuleName"], x["complianceType"]) for x in b1["configuration"]["configRuleList"]) == \
        [("s3-read", "NON_COMPLIANT"), ("s3-write", "COMPLIANT")]
    assert "resourceType" not in b1, "only the selected fields come back"
    # pages of at most 100
    emu.post("/_lzemu/detective/compliance", {"results": [
        {"rule": "s3-read", "account": ids["p1"], "region": HOME, "resource_type": "AWS::S3::Bucket",
         "resource_id": f"many-{i}", "compliance": "NON_COMPLIANT"} for i in range(150)]})
    first = client.select_aggregate_resource_config(Expression=QUERY, ConfigurationAggregatorName="org", Limit=100)
    assert len(first["Results"]) == 100 and first["NextToken"]
    second = client.select_aggregate_resource_config(Expression=QUERY, ConfigurationAggregatorName="org",
                                                     Limit=100, NextToken=first["NextToken"])
    assert len(second["Results"]) == 152 - 100 and "NextToken" not in second
    assert error_of(client.select_aggregate_resource_config, Expression="SELECT * FROM x",
                    ConfigurationAggregatorName="org")["Error"]["Code"] == "InvalidExpressionException"
    assert error_of(client.select_aggregate_resource_config, Expression=QUERY,
                    ConfigurationAggregatorName="nope")["Error"]["Code"] == "NoSuchConfigurationAggregatorException"
    # the log calls it a read
    entry = [e for e in emu.log() if e["operation"] == "SelectAggregateResourceConfig"][-1]
    assert entry["classification"] == "read"


def test_s3_conditional_writes(emu):
    s3 = emu.client("s3", region="us-east-1")
    s3.create_bucket(Bucket="team")
    first = s3.put_object(Bucket="team", Key="state.json", Body=b"v1", IfNoneMatch="*")
    # If-None-Match: * refuses to replace
    err = error_of(s3.put_object, Bucket="team", Key="state.json", Body=b"v2", IfNoneMatch="*")
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 412 and err["Error"]["Code"] == "PreconditionFailed"
    # If-Match replaces the version read, and only it
    second = s3.put_object(Bucket="team", Key="state.json", Body=b"v2", IfMatch=first["ETag"])
    err = error_of(s3.put_object, Bucket="team", Key="state.json", Body=b"v3", IfMatch=first["ETag"])
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket="team", Key="state.json")["Body"].read() == b"v2"
    assert s3.get_object(Bucket="team", Key="state.json")["ETag"] == second["ETag"]
    # If-Match on a missing key is refused too
    assert error_of(s3.put_object, Bucket="team", Key="absent.json", Body=b"x",
                    IfMatch=first["ETag"])["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_s3_conditional_writes_race_one_winner(emu):
    """Many writers read the same version, then write If-Match it: exactly
    one wins (the emulator holds one moto backend's lock per request)."""
    s3 = emu.client("s3", region="us-east-1")
    s3.create_bucket(Bucket="race")
    etag = s3.put_object(Bucket="race", Key="s", Body=b"0")["ETag"]
    wins, losses = [], []

    def writer(i):
        client = emu.client("s3", region="us-east-1")
        try:
            client.put_object(Bucket="race", Key="s", Body=f"w{i}".encode(), IfMatch=etag)
            wins.append(i)
        except botocore.exceptions.ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 412
            losses.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 7
    assert s3.get_object(Bucket="race", Key="s")["Body"].read() == f"w{wins[0]}".encode()
