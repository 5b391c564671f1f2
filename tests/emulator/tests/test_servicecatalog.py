"""Service Catalog Account Factory: find the product, provision accounts, watch
provisioned products and records, in awsJson and in Smithy RPC v2 CBOR."""

import botocore.exceptions
import botocore.model
import pytest

from conftest import MANAGEMENT

OP_SECONDS = 600
PRODUCT = "AWS Control Tower Account Factory"
SELF = {"Key": "Account", "Value": "self"}


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    return err.value.response


@pytest.fixture
def af(emu, org):
    """A landing zone with a registered OU; returns (sc, orgs, root, ou, emu)."""
    orgs, root = org
    emu.post("/_lzemu/settings", {"controltower_operation_seconds": OP_SECONDS})
    ct = emu.client("controltower")
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    ou = orgs.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]
    ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0", targetIdentifier=ou["Arn"])
    finish(emu)
    return emu.client("servicecatalog"), orgs, root, ou, emu


def finish(emu):
    emu.post("/_lzemu/clock", {"advance": OP_SECONDS + 1})


def product_ids(sc):
    summary = sc.search_products(Filters={"FullTextSearch": [PRODUCT]})["ProductViewSummaries"][0]
    artifacts = sc.list_provisioning_artifacts(ProductId=summary["ProductId"])["ProvisioningArtifactDetails"]
    return summary["ProductId"], next(a["Id"] for a in artifacts if a["Active"])


def parameters(name, email, ou):
    return [{"Key": "AccountName", "Value": name}, {"Key": "AccountEmail", "Value": email},
            {"Key": "ManagedOrganizationalUnit", "Value": ou},
            {"Key": "SSOUserEmail", "Value": "admin@example.com"},
            {"Key": "SSOUserFirstName", "Value": "Ada"}, {"Key": "SSOUserLastName", "Value": "Admin"}]


def provision(sc, name, email, ou_value, token=None):
    product, artifact = product_ids(sc)
    kwargs = {"ProvisionToken": token} if token else {}
    return sc.provision_product(ProductId=product, ProvisioningArtifactId=artifact, ProvisionedProductName=name,
                                ProvisioningParameters=parameters(name, email, ou_value), **kwargs)["RecordDetail"]


def busy(sc, *statuses):
    query = " OR ".join(f"status:{s}" for s in statuses)
    return sc.search_provisioned_products(AccessLevelFilter=SELF, Filters={"SearchQuery": [query]})[
        "ProvisionedProducts"]


def test_the_product_can_be_found_by_name_and_id(af):
    sc, _, _, _, _ = af
    product, artifact = product_ids(sc)
    assert product.startswith("prod-") and artifact.startswith("pa-")
    described = sc.describe_product(Name=PRODUCT)
    assert described["ProductViewSummary"]["ProductId"] == product
    assert [a["Id"] for a in described["ProvisioningArtifacts"]] == [artifact]
    assert sc.describe_product(Id=product)["ProductViewSummary"]["Name"] == PRODUCT
    admin = sc.describe_product_as_admin(Name=PRODUCT)
    assert admin["ProductViewDetail"]["ProductViewSummary"]["ProductId"] == product
    assert [a["Id"] for a in admin["ProvisioningArtifactSummaries"]] == [artifact]
    assert sc.describe_provisioning_artifact(ProductName=PRODUCT, ProvisioningArtifactId=artifact)[
        "ProvisioningArtifactDetail"]["Active"] is True
    assert sc.search_products_as_admin()["ProductViewDetails"][0]["ProductViewSummary"]["Name"] == PRODUCT
    keys = [p["ParameterKey"] for p in sc.describe_provisioning_parameters(
        ProductId=product, ProvisioningArtifactId=artifact)["ProvisioningArtifactParameters"]]
    assert keys == ["AccountName", "AccountEmail", "ManagedOrganizationalUnit", "SSOUserEmail",
                    "SSOUserFirstName", "SSOUserLastName"]
    assert sc.list_launch_paths(ProductId=product)["LaunchPathSummaries"][0]["Id"].startswith("lpv3-")
    assert sc.search_products(Filters={"FullTextSearch": ["nothing like it"]})["ProductViewSummaries"] == []


def test_no_landing_zone_no_account_factory(emu, org):
    emu.post("/_lzemu/settings", {"controltower_landing_zone": False})
    sc = emu.client("servicecatalog")
    assert sc.search_products()["ProductViewSummaries"] == []
    with pytest.raises(botocore.exceptions.ClientError):
        sc.describe_product(Name=PRODUCT)


def test_provisioning_creates_moves_and_enrolls_the_account(af):
    sc, orgs, root, ou, emu = af
    record = provision(sc, "payments-prod", "payments@example.com", f"Workloads ({ou['Id']})")
    assert record["Status"] == "CREATED" and record["RecordType"] == "PROVISION_PRODUCT"
    assert sc.describe_record(Id=record["RecordId"])["RecordDetail"]["Status"] == "IN_PROGRESS"
    [pp] = busy(sc, "UNDER_CHANGE")
    assert (pp["Id"], pp["Name"], pp["Type"], pp["Status"]) == \
        (record["ProvisionedProductId"], "payments-prod", "CONTROL_TOWER_ACCOUNT", "UNDER_CHANGE")
    in_ou = orgs.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]
    assert [(a["Name"], a["Email"], a["State"]) for a in in_ou] == [("payments-prod", "payments@example.com", "ACTIVE")]
    account = in_ou[0]["Id"]
    ct = emu.client("controltower")
    enrolling = ct.list_enabled_baselines(filter={"statuses": ["UNDER_CHANGE"]}, includeChildren=True)["enabledBaselines"]
    assert [e["targetIdentifier"].rsplit("/", 1)[1] for e in enrolling] == [account]
    assert emu.get("/_lzemu/controltower")["busy"] is True
    finish(emu)
    done = sc.describe_record(Id=record["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED" and done["RecordDetail"]["RecordErrors"] == []
    outputs = {o["OutputKey"]: o["OutputValue"] for o in done["RecordOutputs"]}
    assert outputs["AccountId"] == account and outputs["AccountEmail"] == "payments@example.com"
    assert busy(sc, "UNDER_CHANGE", "PLAN_IN_PROGRESS") == []
    [available] = sc.search_provisioned_products(Filters={"SearchQuery": ["type:CONTROL_TOWER_ACCOUNT"]})[
        "ProvisionedProducts"]
    assert available["Status"] == "AVAILABLE"
    assert available["LastSuccessfulProvisioningRecordId"] == record["RecordId"]
    assert sc.describe_provisioned_product(Id=pp["Id"])["ProvisionedProductDetail"]["Status"] == "AVAILABLE"
    got = sc.get_provisioned_product_outputs(ProvisionedProductId=pp["Id"], OutputKeys=["AccountEmail"])["Outputs"]
    assert got == [{"OutputKey": "AccountEmail", "OutputValue": "payments@example.com", "Description": "Account email"}]
    assert [p["Id"] for p in sc.scan_provisioned_products(AccessLevelFilter=SELF)["ProvisionedProducts"]] == [pp["Id"]]
    assert ct.list_enabled_baselines(filter={"statuses": ["SUCCEEDED"]}, includeChildren=True)["enabledBaselines"]


def test_a_bare_ou_name_works_when_it_is_unique(af):
    sc, orgs, _, ou, emu = af
    provision(sc, "by-name", "by-name@example.com", "Workloads")
    finish(emu)
    assert [a["Name"] for a in orgs.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]] == ["by-name"]


@pytest.mark.parametrize("case", ["unregistered", "email", "no-such-ou", "name-mismatch"])
def test_failed_provisioning_says_why(af, case):
    sc, orgs, root, ou, emu = af
    accounts_before = len(orgs.list_accounts()["Accounts"])
    if case == "unregistered":
        plain = orgs.create_organizational_unit(ParentId=root, Name="Plain")["OrganizationalUnit"]
        value, email, reason = f"Plain ({plain['Id']})", "new@example.com", "not registered"
    elif case == "email":
        orgs.create_account(Email="Taken@Example.com", AccountName="taken")
        accounts_before += 1
        value, email, reason = f"Workloads ({ou['Id']})", "taken@example.com", "already used"
    elif case == "no-such-ou":
        value, email, reason = "Nowhere (ou-abcd-12345678)", "new@example.com", "not found"
    else:
        value, email, reason = f"Elsewhere ({ou['Id']})", "new@example.com", "does not match"
    record = provision(sc, "doomed", email, value)
    assert busy(sc, "UNDER_CHANGE")[0]["Name"] == "doomed"
    finish(emu)
    detail = sc.describe_record(Id=record["RecordId"])["RecordDetail"]
    assert detail["Status"] == "FAILED"
    assert reason in detail["RecordErrors"][0]["Description"]
    pp = sc.describe_provisioned_product(Name="doomed")["ProvisionedProductDetail"]
    assert pp["Status"] == "ERROR" and reason in pp["StatusMessage"]
    assert len(orgs.list_accounts()["Accounts"]) == accounts_before


def test_a_failing_enrollment_leaves_the_account_and_fails_the_record(af):
    sc, orgs, _, ou, emu = af
    emu.post("/_lzemu/settings", {"controltower_fail_targets": {"flaky@example.com": "Baseline deployment failed"}})
    record = provision(sc, "flaky", "flaky@example.com", f"Workloads ({ou['Id']})")
    finish(emu)
    detail = sc.describe_record(Id=record["RecordId"])["RecordDetail"]
    assert detail["Status"] == "FAILED" and detail["RecordErrors"][0]["Description"] == "Baseline deployment failed"
    assert [a["Name"] for a in orgs.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]] == ["flaky"]
    ct = emu.client("controltower")
    failed = ct.list_enabled_baselines(filter={"statuses": ["FAILED"]}, includeChildren=True)["enabledBaselines"]
    assert len(failed) == 1


def test_bad_requests_are_refused_at_once(af):
    sc, _, _, ou, _ = af
    product, artifact = product_ids(sc)
    incomplete = [p for p in parameters("x", "x@example.com", "Workloads") if p["Key"] != "SSOUserLastName"]
    resp = error_of(sc.provision_product, ProductId=product, ProvisioningArtifactId=artifact,
                    ProvisionedProductName="x", ProvisioningParameters=incomplete)
    assert resp["Error"]["Code"] == "InvalidParametersException"
    provision(sc, "twice", "twice@example.com", "Workloads", token="t-1")
    again = provision(sc, "twice", "twice@example.com", "Workloads", token="t-1")  # idempotent token
    assert again["ProvisionedProductName"] == "twice"
    resp = error_of(sc.provision_product, ProductId=product, ProvisioningArtifactId=artifact,
                    ProvisionedProductName="twice", ProvisioningParameters=parameters("t", "t@example.com", "Workloads"))
    assert resp["Error"]["Code"] == "DuplicateResourceException"
    resp = error_of(sc.describe_record, Id="rec-doesnotexist")
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    resp = error_of(sc.search_provisioned_products, AccessLevelFilter={"Key": "Account", "Value": "someone"})
    assert resp["Error"]["Code"] == "InvalidParametersException"


def test_plan_in_progress_is_busy_too(af):
    sc, _, _, _, emu = af
    staged = emu.post("/_lzemu/controltower/activity",
                      {"kind": "account_factory", "seconds": 30, "product_status": "PLAN_IN_PROGRESS"})
    assert busy(sc, "UNDER_CHANGE") == []
    [pp] = busy(sc, "UNDER_CHANGE", "PLAN_IN_PROGRESS")
    assert pp["Id"] == staged["provisionedProductId"] and pp["Status"] == "PLAN_IN_PROGRESS"
    assert sc.search_provisioned_products(Filters={"SearchQuery": ["status:PLAN_IN_PROGRESS", "name:nope"]})[
        "ProvisionedProducts"] == []
    emu.post("/_lzemu/clock", {"advance": 31})
    assert busy(sc, "UNDER_CHANGE", "PLAN_IN_PROGRESS") == []


def test_update_moves_the_account_and_terminate_unenrolls(af):
    sc, orgs, root, ou, emu = af
    ct = emu.client("controltower")
    baseline = next(b["arn"] for b in ct.list_baselines()["baselines"] if b["name"] == "AWSControlTowerBaseline")
    other = orgs.create_organizational_unit(ParentId=root, Name="Other")["OrganizationalUnit"]
    other_baseline = ct.enable_baseline(baselineIdentifier=baseline, baselineVersion="4.0",
                                        targetIdentifier=other["Arn"])["arn"]
    record = provision(sc, "mover", "mover@example.com", f"Workloads ({ou['Id']})")
    finish(emu)
    product, artifact = product_ids(sc)
    update = sc.update_provisioned_product(
        ProvisionedProductId=record["ProvisionedProductId"], ProductId=product, ProvisioningArtifactId=artifact,
        ProvisioningParameters=[{"Key": "ManagedOrganizationalUnit", "Value": f"Other ({other['Id']})"}])["RecordDetail"]
    assert update["RecordType"] == "UPDATE_PROVISIONED_PRODUCT"
    assert [a["Name"] for a in orgs.list_accounts_for_parent(ParentId=other["Id"])["Accounts"]] == ["mover"]
    assert busy(sc, "UNDER_CHANGE")[0]["Name"] == "mover"
    finish(emu)
    assert sc.describe_record(Id=update["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    moved = ct.list_enabled_baselines(filter={"parentIdentifiers": [other_baseline]})["enabledBaselines"]
    assert len(moved) == 1 and moved[0]["statusSummary"]["status"] == "SUCCEEDED"
    sc.terminate_provisioned_product(ProvisionedProductName="mover")
    finish(emu)
    assert sc.search_provisioned_products()["ProvisionedProducts"] == []
    assert ct.list_enabled_baselines(filter={"parentIdentifiers": [other_baseline]})["enabledBaselines"] == []
    assert [a["Name"] for a in orgs.list_accounts_for_parent(ParentId=other["Id"])["Accounts"]] == ["mover"]


def test_smithy_rpc_v2_cbor_is_served_too(af, monkeypatch):
    sc_json, orgs, _, ou, emu = af
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS",
                        ("smithy-rpc-v2-cbor", "json", "rest-json", "rest-xml", "query", "ec2"))
    sc = emu.client("servicecatalog")
    assert sc.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    sent = {}
    sc.meta.events.register("before-send", lambda request, **_: sent.update(url=request.url,
                                                                           ctype=request.headers.get("Content-Type")))
    record = provision(sc, "cbor", "cbor@example.com", f"Workloads ({ou['Id']})")
    assert sent["url"].endswith("/service/AWS242ServiceCatalogService/operation/ProvisionProduct")
    assert sent["ctype"] in (b"application/cbor", "application/cbor")
    assert record["Status"] == "CREATED" and record["CreatedTime"].year >= 2026
    assert [p["Status"] for p in busy(sc, "UNDER_CHANGE")] == ["UNDER_CHANGE"]
    resp = error_of(sc.describe_record, Id="rec-nope")
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    finish(emu)
    assert sc.describe_record(Id=record["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    entries = [e for e in emu.log() if e["service"] == "servicecatalog"]
    assert entries[-1]["operation"] == "DescribeRecord"
    assert ("DescribeRecord", "ResourceNotFoundException") in [(e["operation"], e["error_code"]) for e in entries]
