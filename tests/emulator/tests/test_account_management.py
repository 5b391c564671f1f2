"""AWS Account Management's account name calls, as AWS documents them: the
management account renames a member only with trusted access enabled."""

import botocore.exceptions
import pytest

from conftest import MANAGEMENT


def new_account(orgs, name):
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    return orgs.describe_create_account_status(
        CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]


def test_put_account_name_needs_trusted_access(emu, org):
    orgs = emu.client("organizations")
    account = emu.client("account")
    member = new_account(orgs, "old-name")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        account.put_account_name(AccountId=member, AccountName="new-name")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert orgs.describe_account(AccountId=member)["Account"]["Name"] == "old-name"

    orgs.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    account.put_account_name(AccountId=member, AccountName="new-name")
    assert orgs.describe_account(AccountId=member)["Account"]["Name"] == "new-name"
    info = account.get_account_information(AccountId=member)
    assert info["AccountName"] == "new-name" and info["AccountState"] == "ACTIVE"


def test_the_management_account_cannot_name_itself_by_id(emu, org):
    orgs = emu.client("organizations")
    orgs.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        emu.client("account").put_account_name(AccountId=MANAGEMENT, AccountName="x")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_a_member_cannot_rename_another_account(emu, org):
    orgs = emu.client("organizations")
    orgs.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    first, second = new_account(orgs, "first"), new_account(orgs, "second")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        emu.client("account", account=first).put_account_name(AccountId=second, AccountName="x")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
