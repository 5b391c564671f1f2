"""Account lifecycle moto does not model: creation that takes time, creation that
fails, closure that takes time, and the account State.

- ``account_creation_seconds``: moto creates an account at once. With a positive
  setting, a new account is taken out of the organization (and its policies'
  targets) right after CreateAccount and put back when its time is up: meanwhile
  CreateAccount/DescribeCreateAccountStatus/ListCreateAccountStatus say
  IN_PROGRESS and the account is in no listing, cannot be moved and cannot be a
  policy target, as in AWS.
- A CreateAccount whose email an existing (or pending) account already uses is
  accepted, creates nothing, and its status goes FAILED with FailureReason
  EMAIL_ALREADY_EXISTS (after ``account_creation_seconds``; at once when it is 0).
- ``account_closure_seconds``: CloseAccount leaves the account PENDING_CLOSURE this
  long, then SUSPENDED (0 = SUSPENDED at once, as moto does).

All times are the emulator clock's.
"""

import random
import string

STATES = ("PENDING_ACTIVATION", "ACTIVE", "SUSPENDED", "PENDING_CLOSURE", "CLOSED")


def _request_id():
    return "car-" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(32))


class PendingAccounts:
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.pending = {}  # request id -> {"token", "org", "due", "status", "email"}
        self.failing = {}  # request id -> {"due", "status", "email"} (no account behind it)
        self.closing = {}  # account id -> due

    def _now(self):
        return self.emulator.clock.now()

    def seconds(self):
        return float(self.emulator.settings.get("account_creation_seconds", default=0) or 0)

    # ------------------------------------------------------------ creation
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
            "token": token, "org": org, "due": self._now() + self.seconds(),
            "status": status, "email": account.email,
        }
        return status

    def pending_emails(self):
        return [item["email"] for item in list(self.pending.values())]

    def fail(self, name, email, reason):
        """A CreateAccount request that will fail with ``reason``; its status now."""
        now = self._now()
        seconds = self.seconds()
        status = {"Id": _request_id(), "AccountName": name, "State": "IN_PROGRESS",
                  "RequestedTimestamp": now}
        final = dict(status, State="FAILED", FailureReason=reason, CompletedTimestamp=now + seconds)
        self.failing[status["Id"]] = {"due": now + seconds, "status": status, "final": final, "email": email}
        return dict(final) if seconds <= 0 else dict(status)

    def tick(self):
        """Put back every account whose creation is complete; finish closures."""
        now = self._now()
        for request_id, item in list(self.pending.items()):
            if item["due"] > now:
                continue
            del self.pending[request_id]
            org = item["org"]
            account = org.reattach_account(item["token"])
            if org.exists:
                self.emulator.stacksets.on_account_moved(account.id, None, account.parent_id)
        for item in list(self.failing.values()):
            if item["due"] <= now:
                item["status"] = item["final"]
        if self.closing:
            org = self.emulator.organizations.management_backend()
            for account_id, due in list(self.closing.items()):
                if due <= now:
                    del self.closing[account_id]
                    account = org.find_account(account_id) if org else None
                    if account is not None and account.state == "PENDING_CLOSURE":
                        account.set_state("SUSPENDED")

    def status(self, request_id):
        item = self.pending.get(request_id) or self.failing.get(request_id)
        return dict(item["status"]) if item else None

    def statuses(self):
        return [dict(item["status"]) for item in list(self.pending.values()) + list(self.failing.values())]

    # ------------------------------------------------------------- closure
    def closure_seconds(self):
        return float(self.emulator.settings.get("account_closure_seconds", default=0) or 0)

    def closed(self, org, account_id):
        """After moto's CloseAccount (which suspends at once): PENDING_CLOSURE first."""
        seconds = self.closure_seconds()
        account = org.find_account(account_id)
        if account is None or seconds <= 0:
            return
        account.set_state("PENDING_CLOSURE")
        self.closing[account_id] = self._now() + seconds

    def set_state(self, org, account_id, state):
        """The control endpoint: put an account in any of the five states."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        account = org.find_account(account_id) if org else None
        if account is None:
            raise KeyError(f"account {account_id}")
        self.closing.pop(account_id, None)
        account.set_state(state)
        return {"AccountId": account_id, "State": state}
