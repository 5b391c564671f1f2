"""Account creation that takes time (setting ``account_creation_seconds``).

moto creates an account at once. With a positive setting, a new account is taken
out of moto's organization (and its policies' targets) right after CreateAccount
and put back when its time is up: meanwhile CreateAccount/DescribeCreateAccountStatus
/ListCreateAccountStatus say IN_PROGRESS and the account is in no listing, cannot
be moved and cannot be a policy target, as in AWS.
"""


class PendingAccounts:
    def __init__(self, emulator):
        self.emulator = emulator
        self.pending = {}  # request id -> {"account", "backend", "due", "status"}

    def reset(self):
        self.pending = {}

    def seconds(self):
        return float(self.emulator.settings.get("account_creation_seconds", default=0) or 0)

    def hold(self, org, account_id):
        """Take a just-created account out of the organization until it is due."""
        token = org.detach_account(account_id)
        if token is None:
            return None
        account = org.held_account(token)
        status = account.create_status()
        status["State"] = "IN_PROGRESS"
        status.pop("AccountId", None)
        status.pop("CompletedTimestamp", None)
        self.pending[account.create_request_id] = {
            "token": token, "org": org, "due": self.emulator.clock.now() + self.seconds(),
            "status": status, "email": account.email,
        }
        return status

    def tick(self):
        """Put back every account whose creation is complete."""
        now = self.emulator.clock.now()
        for request_id, item in list(self.pending.items()):
            if item["due"] > now:
                continue
            del self.pending[request_id]
            org = item["org"]
            account = org.reattach_account(item["token"])
            if org.exists:
                self.emulator.stacksets.on_account_moved(account.id, None, account.parent_id)

    def status(self, request_id):
        item = self.pending.get(request_id)
        return dict(item["status"]) if item else None

    def statuses(self):
        return [dict(item["status"]) for item in self.pending.values()]
