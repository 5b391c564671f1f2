"""Read/mutating classification from the botocore models (lzemu/classify.py)."""

import json
import urllib.request

import botocore.exceptions
import pytest

from lzemu import classify

TRICKY = [
    ("securityhub", "BatchGetSecurityControls", "read"),
    ("securityhub", "BatchGetConfigurationPolicyAssociations", "read"),
    ("securityhub", "BatchEnableStandards", "mutating"),
    ("securityhub", "BatchUpdateFindings", "mutating"),
    ("securityhub", "StartConfigurationPolicyAssociation", "mutating"),
    ("cloudformation", "DetectStackSetDrift", "mutating"),
    ("cloudformation", "DetectStackDrift", "read"),
    ("cloudformation", "ValidateTemplate", "read"),
    ("cloudformation", "EstimateTemplateCost", "read"),
    ("cloudformation", "StopStackSetOperation", "mutating"),
    ("organizations", "DescribeEffectivePolicy", "read"),
    ("organizations", "DescribeAccount", "read"),
    ("organizations", "MoveAccount", "mutating"),
    ("organizations", "CloseAccount", "mutating"),
    ("sts", "AssumeRole", "read"),
    ("sts", "GetCallerIdentity", "read"),
    ("sts", "GetSessionToken", "read"),
    ("controltower", "ListBaselines", "read"),
    ("controltower", "GetLandingZone", "read"),
    ("controltower", "EnableBaseline", "mutating"),
    ("controltower", "UntagResource", "mutating"),
    ("controltower", "ListTagsForResource", "read"),
    ("guardduty", "GetFindings", "read"),
    ("guardduty", "CreateDetector", "mutating"),
    ("iam", "SimulatePrincipalPolicy", "read"),
    ("iam", "GenerateCredentialReport", "mutating"),
    ("servicecatalog", "SearchProvisionedProducts", "read"),
    ("servicecatalog", "ScanProvisionedProducts", "read"),
    ("servicecatalog", "ProvisionProduct", "mutating"),
    ("s3", "HeadBucket", "read"),
    ("s3", "PutObject", "mutating"),
    ("s3", "SelectObjectContent", "read"),
    ("cloudtrail", "LookupEvents", "read"),
    ("config", "SelectResourceConfig", "read"),
    ("config", "DeliverConfigSnapshot", "mutating"),
    ("organizations", "FrobnicateAccount", "unknown"),
]


@pytest.mark.parametrize("service,operation,expected", TRICKY)
def test_tricky_operations(service, operation, expected):
    assert classify.classify(service, operation)[0] == expected


@pytest.mark.parametrize("service", classify.SERVED_SERVICES)
def test_every_operation_of_every_served_model_is_classified(service):
    ops = classify.operations(service)
    assert len(ops) > 5
    unknown = {op: classify.classify(service, op)[1] for op in ops
               if classify.classify(service, op)[0] == classify.UNKNOWN}
    assert unknown == {}


@pytest.mark.parametrize("service", classify.SERVED_SERVICES)
def test_readonly_trait_and_verbs_agree(service):
    """Where the model says @readonly, the verb table must say read too (or an
    exception decides), so services without the trait are classified the same way."""
    model = classify._model(service)
    disagree = [op for op, shape in model[1].items()
                if shape.get("readonly") and classify.verb(op) not in classify.READ_VERBS
                and f"{service}:{op}" not in classify.EXCEPTIONS]
    assert disagree == []


def test_unnamed_requests_use_their_http_method():
    assert classify.classify("s3", "GET /bucket", "GET", named=False)[0] == "read"
    assert classify.classify("s3", "PUT /bucket", "PUT", named=False)[0] == "mutating"
    assert classify.classify("s3", "POST /bucket", "POST", named=False)[0] == "mutating"


def test_the_log_carries_the_classification_and_unknown_operations_are_loud(emu, org):
    sh = emu.client("securityhub")
    sh.enable_security_hub()
    try:
        sh.batch_get_security_controls(SecurityControlIds=["IAM.1"])
    except botocore.exceptions.ClientError:
        pass  # moto may not serve it; the log still classifies the request
    cfn = emu.client("cloudformation")
    try:
        cfn.detect_stack_set_drift(StackSetName="nope")
    except botocore.exceptions.ClientError:
        pass
    req = urllib.request.Request(
        emu.endpoint + "/", data=b"{}", method="POST",
        headers={"X-Amz-Target": "AWSOrganizationsV20161128.FrobnicateAccount",
                 "Content-Type": "application/x-amz-json-1.1",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/organizations/"
                                  "aws4_request, SignedHeaders=host, Signature=0"})
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.HTTPError:
        pass
    by_op = {e["operation"]: e for e in emu.log()}
    assert (by_op["BatchGetSecurityControls"]["classification"], by_op["BatchGetSecurityControls"]["mutating"]) == \
        ("read", False)
    assert (by_op["DetectStackSetDrift"]["classification"], by_op["DetectStackSetDrift"]["mutating"]) == \
        ("mutating", True)
    assert (by_op["FrobnicateAccount"]["classification"], by_op["FrobnicateAccount"]["mutating"]) == \
        ("unknown", True)
    violations = [v for v in emu.violations() if v["kind"] == "unclassified_operation"]
    assert len(violations) == 1 and "organizations:FrobnicateAccount" in violations[0]["detail"]
    json.dumps(by_op)  # the log stays JSON
