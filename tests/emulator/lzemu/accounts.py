"""Account creation that takes time (setting ``account_creation_seconds``).

moto creates an account at once. With a positive setting, a new account is taken
out of moto's organization (and its policies' targets) right after CreateAccount
and put back when its time is up: meanwhile CreateAccount/DescribeCreateAccountStatus
/ListCreateAccountStatus say IN_PROGRESS and the account is in no listing, cannot
be moved and cannot be a policy target, as in AWS.
"""

import time


class PendingAccounts:
    def __init__(self, emulator):
        self.emulator = emulator
        self.pending = {}  # request id -> {"account", "backend", "due", "status"}

    def reset(self):
        self.pending = {}

    def seconds(self):
        return float(self.emulator.settings.get("account_creation_seconds", default=0) or 0)

    def hold(self, backend, account_id):
        """Take a just-created account out of the organization until it is due."""
        account = next((a for a in backend.accounts if a.id == account_id), None)
        if account is None:
            return None
        backend.accounts.remove(account)
        for policy in account.attached_policies:
            if account in policy.attachments:
                policy.attachments.remove(account)
        status = dict(account.create_account_status["CreateAccountStatus"])
        status["State"] = "IN_PROGRESS"
        status.pop("AccountId", None)
        status.pop("CompletedTimestamp", None)
        self.pending[account.create_account_status_id] = {
            "account": account, "backend": backend, "due": time.time() + self.seconds(),
            "status": status,
        }
        return status

    def tick(self):
        """Put back every account whose creation is complete."""
        now = time.time()
        for request_id, item in list(self.pending.items()):
            if item["due"] > now:
                continue
            del self.pending[request_id]
            account, backend = item["account"], item["backend"]
            backend.accounts.append(account)
            for policy in account.attached_policies:
                if account not in policy.attachments:
                    policy.attachments.append(account)
            if backend.org is not None:
                self.emulator.stacksets.on_account_moved(account.id, None, account.parent_id)

    def status(self, request_id):
        item = self.pending.get(request_id)
        return dict(item["status"]) if item else None

    def statuses(self):
        return [dict(item["status"]) for item in self.pending.values()]
