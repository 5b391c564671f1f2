"""AWS Account Management (the `account` service): the account name calls
lzctl uses to rename member accounts. moto serves only alternate contacts.

As AWS documents for PutAccountName: with an AccountId, the caller must be
the management account (or a delegated administrator), the account a member
of its organization, and trusted access for account.amazonaws.com enabled;
the management account cannot name itself by id.
"""

from . import motoseam
from .errors import AwsError

TRUSTED_PRINCIPAL = "account.amazonaws.com"
OPERATIONS = ("PutAccountName", "GetAccountInformation")


def _denied(message):
    return AwsError("AccessDeniedException", message, 403)


def _validation(message):
    return AwsError("ValidationException", message, 400)


class AccountManagement:
    def __init__(self, emulator):
        self.emulator = emulator

    def reset(self):
        pass

    def _target(self, ctx):
        """(organization, account wrapper) the call acts on."""
        org = motoseam.management_organization()
        account_id = ctx.params.get("AccountId")
        if org is None:
            if account_id:
                raise _denied("The caller is not in an organization with trusted access for AWS Account Management.")
            return None, None
        if not account_id:
            return org, org.find_account(ctx.account)
        if len(account_id) != 12 or not account_id.isdigit():
            raise _validation("AccountId must be 12 digits.")
        if ctx.account != org.management_account:
            raise _denied("Only the management account can act on another account by AccountId.")
        if account_id == org.management_account:
            raise _validation("The management account can't specify its own AccountId; call without it.")
        if TRUSTED_PRINCIPAL not in org.trusted_services():
            raise _denied("Trusted access for AWS Account Management (account.amazonaws.com) is not enabled for the organization.")
        account = org.find_account(account_id)
        if account is None:
            raise _denied(f"Account {account_id} is not a member of the organization.")
        return org, account

    def before(self, ctx):
        if ctx.operation not in OPERATIONS:
            return None
        org, account = self._target(ctx)
        if ctx.operation == "PutAccountName":
            name = ctx.params.get("AccountName") or ""
            if not 1 <= len(name) <= 50:
                raise _validation("AccountName must be 1-50 characters.")
            if account is not None:
                account.rename(name)
            return 200, {}
        if account is None:
            raise _denied("Account information is only served for accounts of the organization.")
        return 200, {
            "AccountId": account.id,
            "AccountName": account.name,
            "AccountCreatedDate": account.joined,
            "AccountState": account.state,
        }

    def after(self, ctx, status, out):
        return None
