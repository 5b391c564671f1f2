"""S3 as lzctl uses it: conditional writes for the apply lock (atomic per bucket,
whichever account writes) and CloudTrail log files read back by prefix."""

import gzip
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

BUCKET = "lzctl-state"
KEY = "landing-zone/lock.json"


def code_of(err):
    return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(emu):
    client = emu.client("s3", region="ap-northeast-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    return client


def test_if_none_match_creates_once(s3):
    first = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"holder": "a"}', IfNoneMatch="*")
    assert first["ETag"]
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"holder": "b"}', IfNoneMatch="*")
    assert code_of(err.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b'{"holder": "a"}'


def test_if_match_overwrites_and_deletes_only_the_same_version(s3):
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v1", IfNoneMatch="*")["ETag"]
    newer = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v2", IfMatch=etag)["ETag"]
    assert newer != etag
    with pytest.raises(ClientError) as err:  # a heartbeat of a holder whose lock was replaced
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v3", IfMatch=etag)
    assert code_of(err.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as err:  # a release of a replaced lock
        s3.delete_object(Bucket=BUCKET, Key=KEY, IfMatch=etag)
    assert code_of(err.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"v2"
    s3.delete_object(Bucket=BUCKET, Key=KEY, IfMatch=newer)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=BUCKET, Key=KEY)
    assert code_of(err.value)[0] == "NoSuchKey"


def test_if_match_on_a_missing_key_is_not_found(s3):
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=BUCKET, Key=KEY, IfMatch='"0123"')
    assert code_of(err.value)[0] == "NoSuchKey"


def test_if_match_put_on_a_missing_key_is_not_found(s3):
    # A heartbeat of a holder whose lock was broken (deleted): AWS answers 404
    # NoSuchKey, not 412, and lzctl takes it as the lock lost.
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v2", IfMatch='"0123"')
    assert code_of(err.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=BUCKET, Key=KEY)


def test_a_scheduled_conflict_refuses_one_conditional_write_and_changes_nothing(emu, s3):
    # The emulator serializes writes and never answers 409 by itself; lzctl's
    # tests schedule one (fail-next) to stand for AWS's ConditionalRequestConflict.
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v1", IfNoneMatch="*")["ETag"]
    emu.post("/_lzemu/fail-next", {"operation": f"s3:PUT /{BUCKET}/{KEY}",
                                   "code": "ConditionalRequestConflict", "status": 409})
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v2", IfMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"v1"
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"v2", IfMatch=etag)  # the retry
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"v2"


def test_concurrent_conditional_creates_have_one_winner_across_accounts(emu, s3):
    # Callers in different accounts reach the same bucket; only the bucket lock
    # makes moto's check-then-store one step for them.
    # hold_ms sleeps inside the request's locks: serialized per bucket, the
    # race takes at least n x hold; with a lock per account it would not.
    hold = 0.1
    emu.post("/_lzemu/settings", {"hold_ms": {"default": hold * 1000}})
    clients = [emu.client("s3", region="ap-northeast-1", account=acct)
               for acct in ("123456789012", "111111111111", "222222222222", "333333333333")] * 2
    results = []
    barrier = threading.Barrier(len(clients))

    def race(i, client):
        barrier.wait()
        try:
            client.put_object(Bucket=BUCKET, Key=KEY, Body=str(i).encode(), IfNoneMatch="*")
            results.append(("won", i))
        except ClientError as err:
            results.append((code_of(err)[0], i))

    threads = [threading.Thread(target=race, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    started = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert elapsed >= hold * len(clients) * 0.95, f"writes to one bucket overlapped: {elapsed:.3f}s"
    winners = [i for what, i in results if what == "won"]
    assert len(winners) == 1, results
    assert sorted(what for what, _ in results if what != "won") == ["PreconditionFailed"] * (len(clients) - 1)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == str(winners[0]).encode()
    puts = [e for e in emu.log() if e["service"] == "s3" and e["operation"].startswith("PUT /lzctl-state/")]
    assert len(puts) == len(clients) and all(e["mutating"] for e in puts)


def test_cloudtrail_files_list_by_prefix_and_read_back_gzip(s3):
    records = {"Records": [{"eventTime": "2026-11-28T06:01:00Z", "eventSource": "ec2.amazonaws.com",
                            "eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation",
                            "errorMessage": "... with an explicit deny in a service control policy"}]}
    prefix = "AWSLogs/o-abc/222222222222/CloudTrail/ap-northeast-1/2026/11/28/"
    key = prefix + "222222222222_CloudTrail_ap-northeast-1_20261128T0605Z_x.json.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps(records).encode()))
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/o-abc/333333333333/CloudTrail/ap-northeast-1/2026/11/28/x.json.gz",
                  Body=b"{}")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    assert [o["Key"] for o in listed] == [key]
    assert listed[0]["LastModified"]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(gzip.decompress(body)) == records


def test_an_accounts_trail_regions_list_as_common_prefixes(s3):
    # The rollout watch finds every region CloudTrail filed an account's calls
    # under with one delimited listing (a region restriction's denials land in
    # the regions it denies, not the governed ones).
    base = "AWSLogs/o-abc/222222222222/CloudTrail/"
    for region in ("ap-northeast-1", "us-east-1", "us-west-2"):
        s3.put_object(Bucket=BUCKET, Key=f"{base}{region}/2026/11/28/f.json.gz", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/o-abc/333333333333/CloudTrail/eu-west-1/2026/11/28/f.json.gz",
                  Body=b"{}")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=base, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == [
        base + "ap-northeast-1/", base + "us-east-1/", base + "us-west-2/"]
    assert "Contents" not in listed
