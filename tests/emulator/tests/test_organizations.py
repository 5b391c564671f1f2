"""Organizations limits and rules as AWS enforces them (issue 3 §1)."""

import json
import re

import botocore.exceptions
import pytest

from conftest import MANAGEMENT

FULL_AWS_ACCESS = "p-FullAWSAccess"


def scp(statements=None, pad=0):
    doc = {"Version": "2012-10-17",
           "Statement": statements or [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
    text = json.dumps(doc, separators=(",", ":"))
    return text + " " * pad


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(*args, **kwargs)
    return err.value.response


def new_ou(orgs, parent, name):
    return orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]


def new_policy(orgs, name, content=None, kind="SERVICE_CONTROL_POLICY"):
    return orgs.create_policy(Name=name, Description=name, Type=kind,
                              Content=content or scp())["Policy"]["PolicySummary"]["Id"]


def scps_of(orgs, target):
    return sorted(p["Id"] for p in orgs.list_policies_for_target(
        TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"])


def test_new_organization_has_scps_enabled_and_full_aws_access_everywhere(org):
    orgs, root = org
    root_desc = orgs.list_roots()["Roots"][0]
    assert {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"} in root_desc["PolicyTypes"]
    ou = new_ou(orgs, root, "prod")
    account = orgs.create_account(Email="a@example.com", AccountName="a")["CreateAccountStatus"]["AccountId"]
    for target in (root, ou, account, MANAGEMENT):
        assert scps_of(orgs, target) == [FULL_AWS_ACCESS]
    desc = orgs.describe_policy(PolicyId=FULL_AWS_ACCESS)["Policy"]["PolicySummary"]
    assert desc["AwsManaged"] is True and desc["Name"] == "FullAWSAccess"


def test_scp_size_limit_counts_every_character(org):
    orgs, _ = org
    body = scp()
    exactly = body + " " * (10240 - len(body))
    new_policy(orgs, "fits", exactly)
    resp = error_of(orgs.create_policy, Name="big", Description="d", Type="SERVICE_CONTROL_POLICY",
                    Content=exactly + " ")
    assert resp["Error"]["Code"] == "ConstraintViolationException"
    assert resp["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"


def test_size_limits_are_settings_and_per_type(emu, org):
    orgs, _ = org
    emu.post("/_lzemu/settings", {"limits": {"scp_max_size": 5120}})
    resp = error_of(orgs.create_policy, Name="old", Description="d", Type="SERVICE_CONTROL_POLICY",
                    Content=scp(pad=5200))
    assert resp["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"
    rcp = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]})
    resp = error_of(orgs.create_policy, Name="rcp", Description="d", Type="RESOURCE_CONTROL_POLICY",
                    Content=rcp + " " * 5120)
    assert resp["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"
    new_policy(orgs, "rcp-ok", rcp, kind="RESOURCE_CONTROL_POLICY")


@pytest.mark.parametrize("content", [
    "{not json",
    "[]",
    json.dumps({"Version": "2012-10-17"}),
    json.dumps({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}),
    json.dumps({"Statement": [{"Effect": "Deny", "Resource": "*"}]}),
    json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}),
])
def test_malformed_scp_is_rejected(org, content):
    orgs, _ = org
    resp = error_of(orgs.create_policy, Name="bad", Description="d",
                    Type="SERVICE_CONTROL_POLICY", Content=content)
    assert resp["Error"]["Code"] == "MalformedPolicyDocumentException"


def test_update_policy_is_validated_too(org):
    orgs, _ = org
    policy = new_policy(orgs, "p")
    assert error_of(orgs.update_policy, PolicyId=policy, Content="{")["Error"]["Code"] == \
        "MalformedPolicyDocumentException"
    assert error_of(orgs.update_policy, PolicyId=policy, Content=scp(pad=11000))["Reason"] == \
        "POLICY_CONTENT_LIMIT_EXCEEDED"
    orgs.update_policy(PolicyId=policy, Content=scp([{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]))
    assert "ec2:*" in orgs.describe_policy(PolicyId=policy)["Policy"]["Content"]


def test_aws_managed_policy_cannot_be_changed(org):
    orgs, _ = org
    for call, kwargs in ((orgs.update_policy, {"Name": "Mine"}), (orgs.delete_policy, {})):
        resp = error_of(call, PolicyId=FULL_AWS_ACCESS, **kwargs)
        assert resp["Error"]["Code"] == "InvalidInputException"
        assert resp["Reason"] == "IMMUTABLE_POLICY"


def test_attachment_cap_counts_full_aws_access(emu, org):
    orgs, root = org
    ou = new_ou(orgs, root, "workloads")
    for i in range(9):  # FullAWSAccess + 9 = 10
        orgs.attach_policy(PolicyId=new_policy(orgs, f"p{i}"), TargetId=ou)
    extra = new_policy(orgs, "p-extra")
    resp = error_of(orgs.attach_policy, PolicyId=extra, TargetId=ou)
    assert resp["Error"]["Code"] == "ConstraintViolationException"
    assert resp["Reason"] == "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    assert len(scps_of(orgs, ou)) == 10
    emu.post("/_lzemu/settings", {"limits": {"scp_max_attachments": 11}})
    orgs.attach_policy(PolicyId=extra, TargetId=ou)


def test_duplicate_attachment_and_detaching_unattached(org):
    orgs, root = org
    ou = new_ou(orgs, root, "a")
    policy = new_policy(orgs, "p")
    orgs.attach_policy(PolicyId=policy, TargetId=ou)
    assert error_of(orgs.attach_policy, PolicyId=policy, TargetId=ou)["Error"]["Code"] == \
        "DuplicatePolicyAttachmentException"
    other = new_ou(orgs, root, "b")
    assert error_of(orgs.detach_policy, PolicyId=policy, TargetId=other)["Error"]["Code"] == \
        "PolicyNotAttachedException"
    assert error_of(orgs.attach_policy, PolicyId=policy, TargetId="ou-zzzz-zzzzzzzz")["Error"]["Code"] == \
        "TargetNotFoundException"


def test_detaching_the_last_scp_fails_but_replacing_works(emu, org):
    orgs, root = org
    ou = new_ou(orgs, root, "prod")
    resp = error_of(orgs.detach_policy, PolicyId=FULL_AWS_ACCESS, TargetId=ou)
    assert resp["Error"]["Code"] == "ConstraintViolationException"
    assert resp["Reason"] == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    replacement = new_policy(orgs, "allow-most", scp([{"Effect": "Allow", "Action": "*", "Resource": "*"}]))
    orgs.attach_policy(PolicyId=replacement, TargetId=ou)
    orgs.detach_policy(PolicyId=FULL_AWS_ACCESS, TargetId=ou)
    assert scps_of(orgs, ou) == [replacement]
    assert emu.violations() == []


def test_target_without_scp_is_recorded_when_the_rule_is_relaxed(emu, org):
    orgs, root = org
    ou = new_ou(orgs, root, "prod")
    emu.post("/_lzemu/settings", {"limits": {"scp_min_attachments": 0}})
    orgs.detach_policy(PolicyId=FULL_AWS_ACCESS, TargetId=ou)
    violations = emu.violations()
    assert [v["kind"] for v in violations] == ["target_without_scp"]
    assert ou in violations[0]["detail"]


def test_policy_type_must_be_enabled_before_attaching(org):
    orgs, root = org
    tag = new_policy(orgs, "tags", json.dumps({"tags": {}}), kind="TAG_POLICY")
    resp = error_of(orgs.attach_policy, PolicyId=tag, TargetId=root)
    assert resp["Error"]["Code"] == "PolicyTypeNotEnabledException"
    orgs.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    orgs.attach_policy(PolicyId=tag, TargetId=root)


def test_ou_depth_limit_is_five_levels(org):
    orgs, root = org
    parent = root
    for level in range(1, 6):
        parent = new_ou(orgs, parent, f"level{level}")
    resp = error_of(orgs.create_organizational_unit, ParentId=parent, Name="level6")
    assert resp["Error"]["Code"] == "ConstraintViolationException"
    assert resp["Reason"] == "OU_DEPTH_LIMIT_EXCEEDED"


def test_ou_names_unique_per_parent_only(org):
    orgs, root = org
    group_a = new_ou(orgs, root, "group-a")
    group_b = new_ou(orgs, root, "group-b")
    prod_a = new_ou(orgs, group_a, "prod")
    prod_b = new_ou(orgs, group_b, "prod")  # same name, other parent: fine
    assert prod_a != prod_b
    resp = error_of(orgs.create_organizational_unit, ParentId=group_a, Name="prod")
    assert resp["Error"]["Code"] == "DuplicateOrganizationalUnitException"
    dev_a = new_ou(orgs, group_a, "dev")
    resp = error_of(orgs.update_organizational_unit, OrganizationalUnitId=dev_a, Name="prod")
    assert resp["Error"]["Code"] == "DuplicateOrganizationalUnitException"
    # renaming to a name used under another parent works (moto alone refuses this)
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=prod_b, Name="dev")
    assert renamed["OrganizationalUnit"]["Name"] == "dev"
    # renaming to its own name works too
    orgs.update_organizational_unit(OrganizationalUnitId=prod_a, Name="prod")


def test_create_ou_under_missing_parent(org):
    orgs, _ = org
    resp = error_of(orgs.create_organizational_unit, ParentId="ou-zzzz-zzzzzzzz", Name="x")
    assert resp["Error"]["Code"] == "ParentNotFoundException"


def test_deleting_a_non_empty_ou_fails(org):
    orgs, root = org
    parent = new_ou(orgs, root, "parent")
    child = new_ou(orgs, parent, "child")
    assert error_of(orgs.delete_organizational_unit, OrganizationalUnitId=parent)["Error"]["Code"] == \
        "OrganizationalUnitNotEmptyException"
    account = orgs.create_account(Email="a@example.com", AccountName="a")["CreateAccountStatus"]["AccountId"]
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=child)
    assert error_of(orgs.delete_organizational_unit, OrganizationalUnitId=child)["Error"]["Code"] == \
        "OrganizationalUnitNotEmptyException"
    orgs.move_account(AccountId=account, SourceParentId=child, DestinationParentId=root)
    orgs.delete_organizational_unit(OrganizationalUnitId=child)
    orgs.delete_organizational_unit(OrganizationalUnitId=parent)
    assert orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []
    targets = orgs.list_targets_for_policy(PolicyId=FULL_AWS_ACCESS)["Targets"]
    assert child not in [t["TargetId"] for t in targets]


def test_move_account_checks_source_parent(org):
    orgs, root = org
    a = new_ou(orgs, root, "a")
    b = new_ou(orgs, root, "b")
    account = orgs.create_account(Email="x@example.com", AccountName="x")["CreateAccountStatus"]["AccountId"]
    assert error_of(orgs.move_account, AccountId=account, SourceParentId=a,
                    DestinationParentId=b)["Error"]["Code"] == "AccountNotFoundException"
    assert error_of(orgs.move_account, AccountId=account, SourceParentId="ou-zzzz-zzzzzzzz",
                    DestinationParentId=b)["Error"]["Code"] == "SourceParentNotFoundException"
    assert error_of(orgs.move_account, AccountId=account, SourceParentId=root,
                    DestinationParentId="ou-zzzz-zzzzzzzz")["Error"]["Code"] == "DestinationParentNotFoundException"
    assert error_of(orgs.move_account, AccountId=account, SourceParentId=root,
                    DestinationParentId=root)["Error"]["Code"] == "DuplicateAccountException"
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=a)
    assert [x["Id"] for x in orgs.list_accounts_for_parent(ParentId=a)["Accounts"]] == [account]


def test_every_operation_lzctl_uses_works_through_the_wrapper(emu, org):
    orgs, root = org
    assert orgs.describe_organization()["Organization"]["MasterAccountId"] == MANAGEMENT
    ous = [new_ou(orgs, root, f"ou{i}") for i in range(3)]
    accounts = []
    for i in range(3):
        status = orgs.create_account(Email=f"a{i}@example.com", AccountName=f"a{i}")["CreateAccountStatus"]
        described = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])
        assert described["CreateAccountStatus"]["State"] == "SUCCEEDED"
        accounts.append(status["AccountId"])
    # pagination with small pages
    paginator = orgs.get_paginator("list_organizational_units_for_parent")
    pages = list(paginator.paginate(ParentId=root, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3 and sorted(o["Id"] for p in pages for o in p["OrganizationalUnits"]) == sorted(ous)
    pages = list(orgs.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 2 and len([a for p in pages for a in p["Accounts"]]) == 4
    pages = list(orgs.get_paginator("list_accounts_for_parent").paginate(
        ParentId=root, PaginationConfig={"PageSize": 1}))
    assert len([a for p in pages for a in p["Accounts"]]) == 4
    policy = new_policy(orgs, "deny-s3")
    orgs.attach_policy(PolicyId=policy, TargetId=ous[0])
    assert [t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=policy)["Targets"]] == [ous[0]]
    pages = list(orgs.get_paginator("list_policies").paginate(
        Filter="SERVICE_CONTROL_POLICY", PaginationConfig={"PageSize": 1}))
    assert sorted(p["Name"] for page in pages for p in page["Policies"]) == ["FullAWSAccess", "deny-s3"]
    orgs.tag_resource(ResourceId=policy, Tags=[{"Key": "managed-by", "Value": "lzctl"}])
    orgs.tag_resource(ResourceId=ous[1], Tags=[{"Key": "path", "Value": "/ou1"}])
    assert orgs.list_tags_for_resource(ResourceId=policy)["Tags"] == [{"Key": "managed-by", "Value": "lzctl"}]
    orgs.untag_resource(ResourceId=policy, TagKeys=["managed-by"])
    assert orgs.list_tags_for_resource(ResourceId=policy)["Tags"] == []
    orgs.update_policy(PolicyId=policy, Description="new")
    orgs.detach_policy(PolicyId=policy, TargetId=ous[0])
    orgs.delete_policy(PolicyId=policy)
    orgs.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    orgs.move_account(AccountId=accounts[0], SourceParentId=root, DestinationParentId=ous[2])
    orgs.update_organizational_unit(OrganizationalUnitId=ous[1], Name="renamed")
    orgs.delete_organizational_unit(OrganizationalUnitId=ous[1])
    assert emu.client("sts").get_caller_identity()["Account"] == MANAGEMENT
    assert all(e["status"] == 200 for e in emu.log())


def test_account_creation_can_take_time(emu, org):
    import time

    orgs, root = org
    emu.post("/_lzemu/settings", {"account_creation_seconds": 1.0})
    status = orgs.create_account(Email="slow@example.com", AccountName="slow")["CreateAccountStatus"]
    assert status["State"] == "IN_PROGRESS" and "AccountId" not in status
    described = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert described["State"] == "IN_PROGRESS"
    listed = orgs.list_create_account_status(States=["IN_PROGRESS"])["CreateAccountStatuses"]
    assert [s["Id"] for s in listed] == [status["Id"]]
    assert [a["Name"] for a in orgs.list_accounts()["Accounts"]] == ["master"]
    assert [t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=FULL_AWS_ACCESS)["Targets"]
            if t["Type"] == "ACCOUNT"] == [MANAGEMENT]
    time.sleep(1.1)
    done = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED" and done["AccountId"]
    assert done["AccountId"] in [a["Id"] for a in orgs.list_accounts_for_parent(ParentId=root)["Accounts"]]
    assert scps_of(orgs, done["AccountId"]) == [FULL_AWS_ACCESS]
    ou = new_ou(orgs, root, "landing")
    orgs.move_account(AccountId=done["AccountId"], SourceParentId=root, DestinationParentId=ou)


def test_member_accounts_are_refused_and_delegated_admins_may_read(emu, org):
    orgs, root = org
    account = orgs.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
    member = emu.client("organizations", account=account)
    assert member.describe_organization()["Organization"]["MasterAccountId"] == MANAGEMENT
    for call, kwargs in ((member.list_accounts, {}), (member.list_roots, {}),
                         (member.create_organizational_unit, {"ParentId": root, "Name": "x"}),
                         (member.create_policy, {"Name": "x", "Description": "x",
                                                 "Type": "SERVICE_CONTROL_POLICY", "Content": scp()})):
        assert error_of(call, **kwargs)["Error"]["Code"] == "AccessDeniedException"
    orgs.register_delegated_administrator(AccountId=account, ServicePrincipal="securityhub.amazonaws.com")
    names = sorted(a["Name"] for a in member.list_accounts()["Accounts"])
    assert names == ["m", "master"]
    assert member.list_roots()["Roots"][0]["Id"] == root
    assert error_of(member.create_organizational_unit, ParentId=root, Name="x")["Error"]["Code"] == \
        "AccessDeniedException"
    outsider = emu.client("organizations", account="210987654321")
    assert error_of(outsider.list_accounts)["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    assert error_of(outsider.create_policy, Name="x", Description="x", Type="SERVICE_CONTROL_POLICY",
                    Content=scp())["Error"]["Code"] == "AWSOrganizationsNotInUseException"


# ------------------------------------------------------- State, Paths, Path
PATH = re.compile(r"^(o-[a-z0-9]{10,32}/r-[0-9a-z]{4,32}(/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})*(/\d{12})*)/$")


def test_accounts_have_state_and_paths_and_no_status(emu, org):
    orgs, root = org
    org_id = orgs.describe_organization()["Organization"]["Id"]
    group = new_ou(orgs, root, "group")
    prod = new_ou(orgs, group, "prod")
    account = orgs.create_account(Email="p@example.com", AccountName="p")["CreateAccountStatus"]["AccountId"]
    orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=prod)
    described = orgs.describe_account(AccountId=account)["Account"]
    assert "Status" not in described
    assert described["State"] == "ACTIVE"
    assert described["Paths"] == [f"{org_id}/{root}/{group}/{prod}/{account}/"]
    assert PATH.match(described["Paths"][0])
    listed = {a["Id"]: a for a in orgs.list_accounts()["Accounts"]}
    assert listed[MANAGEMENT]["Paths"] == [f"{org_id}/{root}/{MANAGEMENT}/"]
    assert listed[account]["Paths"] == described["Paths"]
    assert all("Status" not in a and a["State"] == "ACTIVE" for a in listed.values())
    under = orgs.list_accounts_for_parent(ParentId=prod)["Accounts"]
    assert [(a["Id"], a["State"], a["Paths"]) for a in under] == [(account, "ACTIVE", described["Paths"])]
    assert all("Status" not in a for a in under)
    orgs.register_delegated_administrator(AccountId=account, ServicePrincipal="securityhub.amazonaws.com")
    admins = orgs.list_delegated_administrators()["DelegatedAdministrators"]
    assert [(a["Id"], a["State"], "Status" in a) for a in admins] == [(account, "ACTIVE", False)]


def test_ous_have_a_path_ending_in_their_own_id(emu, org):
    orgs, root = org
    org_id = orgs.describe_organization()["Organization"]["Id"]
    created = orgs.create_organizational_unit(ParentId=root, Name="group")["OrganizationalUnit"]
    assert created["Path"] == f"{org_id}/{root}/{created['Id']}/"
    child = orgs.create_organizational_unit(ParentId=created["Id"], Name="prod")["OrganizationalUnit"]
    expected = f"{org_id}/{root}/{created['Id']}/{child['Id']}/"
    assert child["Path"] == expected and PATH.match(expected)
    assert orgs.describe_organizational_unit(OrganizationalUnitId=child["Id"])["OrganizationalUnit"]["Path"] == expected
    listed = orgs.list_organizational_units_for_parent(ParentId=created["Id"])["OrganizationalUnits"]
    assert [o["Path"] for o in listed] == [expected]
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=child["Id"], Name="production")
    assert renamed["OrganizationalUnit"]["Path"] == expected


@pytest.mark.parametrize("state", ["PENDING_ACTIVATION", "ACTIVE", "SUSPENDED", "PENDING_CLOSURE", "CLOSED"])
def test_a_test_can_put_an_account_in_each_state(emu, org, state):
    orgs, root = org
    account = orgs.create_account(Email="s@example.com", AccountName="s")["CreateAccountStatus"]["AccountId"]
    answer = emu.post("/_lzemu/organizations/account-state", {"account_id": account, "state": state})
    assert answer == {"AccountId": account, "State": state}
    assert orgs.describe_account(AccountId=account)["Account"]["State"] == state
    listed = {a["Id"]: a for a in orgs.list_accounts()["Accounts"]}
    assert listed[account]["State"] == state and "Status" not in listed[account]


def test_account_state_endpoint_rejects_bad_input(emu, org):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        emu.post("/_lzemu/organizations/account-state", {"account_id": MANAGEMENT, "state": "GONE"})
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        emu.post("/_lzemu/organizations/account-state", {"account_id": "999999999999", "state": "ACTIVE"})
    assert err.value.code == 404


def test_close_account_is_pending_closure_then_suspended(emu, org):
    orgs, root = org
    first = orgs.create_account(Email="c1@example.com", AccountName="c1")["CreateAccountStatus"]["AccountId"]
    orgs.close_account(AccountId=first)
    assert orgs.describe_account(AccountId=first)["Account"]["State"] == "SUSPENDED"
    emu.post("/_lzemu/settings", {"account_closure_seconds": 600})
    second = orgs.create_account(Email="c2@example.com", AccountName="c2")["CreateAccountStatus"]["AccountId"]
    orgs.close_account(AccountId=second)
    assert orgs.describe_account(AccountId=second)["Account"]["State"] == "PENDING_CLOSURE"
    emu.post("/_lzemu/clock", {"advance": 601})
    assert orgs.describe_account(AccountId=second)["Account"]["State"] == "SUSPENDED"


def test_create_account_with_an_email_in_use_fails_with_email_already_exists(emu, org):
    orgs, root = org
    orgs.create_account(Email="Team+Prod@Example.com", AccountName="prod")
    before = {a["Id"] for a in orgs.list_accounts()["Accounts"]}
    status = orgs.create_account(Email="team+prod@example.COM", AccountName="prod-again")["CreateAccountStatus"]
    assert status["State"] == "FAILED" and status["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    assert status["Id"].startswith("car-") and "AccountId" not in status
    described = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert (described["State"], described["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    failed = orgs.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert [s["Id"] for s in failed] == [status["Id"]]
    assert status["Id"] not in [s["Id"] for s in orgs.list_create_account_status(States=["SUCCEEDED"])[
        "CreateAccountStatuses"]]
    assert {a["Id"] for a in orgs.list_accounts()["Accounts"]} == before
    # the management account's email counts too
    mgmt_email = orgs.describe_account(AccountId=MANAGEMENT)["Account"]["Email"]
    assert orgs.create_account(Email=mgmt_email.upper(), AccountName="x")["CreateAccountStatus"]["State"] == "FAILED"


def test_email_check_covers_pending_accounts_and_takes_the_creation_time(emu, org):
    orgs, root = org
    emu.post("/_lzemu/settings", {"account_creation_seconds": 120})
    first = orgs.create_account(Email="new@example.com", AccountName="new")["CreateAccountStatus"]
    assert first["State"] == "IN_PROGRESS"
    dup = orgs.create_account(Email="NEW@example.com", AccountName="new2")["CreateAccountStatus"]
    assert dup["State"] == "IN_PROGRESS" and "FailureReason" not in dup
    emu.post("/_lzemu/clock", {"advance": 121})
    assert orgs.describe_create_account_status(CreateAccountRequestId=first["Id"])[
        "CreateAccountStatus"]["State"] == "SUCCEEDED"
    described = orgs.describe_create_account_status(CreateAccountRequestId=dup["Id"])["CreateAccountStatus"]
    assert (described["State"], described["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")


def test_update_policy_with_only_a_name_renames_in_place_after_the_old_holder_is_detached_and_deleted(org):
    # What a staged document change's last step relies on (lzctl
    # `ReplacePolicy`): DeletePolicy refuses an attached policy; once it is
    # detached and deleted its name is free, and UpdatePolicy with only Name
    # renames the copy, keeping its id, document and targets.
    orgs, root = org
    ou = new_ou(orgs, root, "prod")
    old = new_policy(orgs, "deny-leave")
    copy = new_policy(orgs, "deny-leave (staged)",
                      scp([{"Effect": "Deny", "Action": "account:CloseAccount", "Resource": "*"}]))
    for policy in (old, copy):
        orgs.attach_policy(PolicyId=policy, TargetId=ou)
    assert error_of(orgs.delete_policy, PolicyId=old)["Error"]["Code"] == "PolicyInUseException"
    orgs.detach_policy(PolicyId=old, TargetId=ou)
    orgs.delete_policy(PolicyId=old)
    orgs.update_policy(PolicyId=copy, Name="deny-leave")
    renamed = orgs.describe_policy(PolicyId=copy)["Policy"]
    assert renamed["PolicySummary"]["Name"] == "deny-leave"
    assert "account:CloseAccount" in renamed["Content"]
    assert [t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=copy)["Targets"]] == [ou]
    names = [p["Name"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]]
    assert names.count("deny-leave") == 1 and "deny-leave (staged)" not in names
