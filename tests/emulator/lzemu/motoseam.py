"""The one place that knows moto's internals.

Every other module of the emulator reaches moto through this file: the WSGI
application and request handler, reset, the account of an access key, moto's
notion of "now", and the Organizations backend (wrapped in small classes that
expose only what the emulator needs). A moto upgrade is this file's work.

Reads from other threads: the wrappers copy moto's lists (``list(...)`` is one
step under the GIL) before iterating, so a reader that does not hold the
Organizations lock sees a consistent-enough snapshot; every write happens with
the Organizations lock held (see ``locks.py``).
"""

import datetime
import sys
import threading

_EXTRA_DELEGATABLE = []
_clock = None
_patched_modules = set()
_seen_module_count = 0


# ------------------------------------------------------------------ server
def wsgi_app():
    """moto's server application (all services, dispatched by host/signature)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _install_speedups()
    return DomainDispatcherApplication(create_backend_app)


# Two lookups moto repeats on every request, each growing with what the
# emulator holds: the account of an access key (a scan of every account's IAM
# backend: O(accounts)) and the list of moto's service modules (a directory
# listing). Both answers change only when IAM or STS hand out keys (the key
# cache is forgotten after every IAM/STS request and on reset) or never.
_key_accounts = {}
_key_lock = threading.Lock()
_speedups_installed = False


def _install_speedups():
    global _speedups_installed
    if _speedups_installed:
        return
    _speedups_installed = True
    import moto.backends as backends
    import moto.iam.models as iam_models

    original = iam_models.get_account_id_from

    def cached_account_id_from(access_key):
        with _key_lock:
            hit = _key_accounts.get(access_key)
        if hit is not None:
            return hit
        account = original(access_key)
        with _key_lock:
            _key_accounts[access_key] = account
        return account

    iam_models.get_account_id_from = cached_account_id_from
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def forget_access_keys():
    """IAM or STS may have made or removed keys: look accounts up again."""
    with _key_lock:
        _key_accounts.clear()


def request_handler_class():
    """moto's werkzeug request handler (keeps header spellings moto needs)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


def reset_all():
    """Reset every moto backend, as POST /moto-api/reset does."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    forget_access_keys()
    orgs = sys.modules.get("moto.organizations.models")
    if orgs is not None:
        orgs.organizations_backends.master_accounts.clear()


def account_for_access_key(access_key):
    """The account moto maps a request signed with ``access_key`` to."""
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "AKIAEXAMPLE")


# ------------------------------------------------------------------- clock
def _clock_utcnow():
    """moto's utcnow (naive UTC datetime) from the emulator clock."""
    return datetime.datetime.fromtimestamp(_clock.now(), tz=datetime.timezone.utc).replace(tzinfo=None)


def install_clock(clock):
    """Make moto's timestamps (moto.core.utils.utcnow and every module that
    imported it by name) follow the emulator clock."""
    global _clock
    _clock = clock
    import moto.core.utils as core_utils

    if not hasattr(core_utils, "_lzemu_original_utcnow"):
        core_utils._lzemu_original_utcnow = core_utils.utcnow
    core_utils.utcnow = _clock_utcnow
    patch_new_modules(force=True)


def patch_new_modules(force=False):
    """moto imports service modules lazily; rebind their ``utcnow`` once loaded.
    Cheap when no module was imported since the last call."""
    global _seen_module_count
    if _clock is None:
        return
    count = len(sys.modules)
    if count == _seen_module_count and not force:
        return
    _seen_module_count = count
    core_utils = sys.modules.get("moto.core.utils")
    original = getattr(core_utils, "_lzemu_original_utcnow", None)
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or name in _patched_modules or module is None:
            continue
        if getattr(module, "utcnow", None) is original and original is not None:
            module.utcnow = _clock_utcnow
        _patched_modules.add(name)


# ----------------------------------------------------------- organizations
def _models():
    from moto.organizations import models

    if _EXTRA_DELEGATABLE:
        supported = models.FakeDelegatedAdministrator.SUPPORTED_SERVICES
        supported.extend(p for p in _EXTRA_DELEGATABLE if p not in supported)
        _EXTRA_DELEGATABLE.clear()
    return models


def extend_delegatable(principals):
    """Let moto accept these service principals as delegated administrators
    (applied when moto's Organizations models are first loaded)."""
    _EXTRA_DELEGATABLE.extend(principals)


def master_of(account_id):
    """The management account of the organization ``account_id`` belongs to, or None."""
    orgs = sys.modules.get("moto.organizations.models")
    if orgs is None:
        return None
    entry = orgs.organizations_backends.master_accounts.get(account_id)
    return entry[0] if entry else None


def organization_of(account_id):
    """The Organization held by ``account_id``'s backend, or None."""
    backend = _models().organizations_backends[account_id]["aws"]
    return Organization(backend) if backend.org is not None else None


def management_organization():
    """The organization that exists in the emulator (the first one found), or None."""
    if "moto.organizations.models" not in sys.modules:
        return None
    backends = _models().organizations_backends
    for account_id in list(backends.keys()):
        backend = backends[account_id]["aws"]
        if backend.org is not None:
            return Organization(backend)
    return None


class _Wrapper:
    __slots__ = ("_m",)

    def __init__(self, model):
        self._m = model

    def __eq__(self, other):
        return isinstance(other, _Wrapper) and other._m is self._m

    def __hash__(self):
        return id(self._m)

    @property
    def id(self):
        return self._m.id


class Policy(_Wrapper):
    __slots__ = ()

    name = property(lambda self: self._m.name)
    type = property(lambda self: self._m.type)
    aws_managed = property(lambda self: bool(self._m.aws_managed))


class _Target(_Wrapper):
    __slots__ = ()

    arn = property(lambda self: self._m.arn)
    name = property(lambda self: self._m.name)
    kind = property(lambda self: self._m.type)  # ROOT | ORGANIZATIONAL_UNIT | ACCOUNT

    def policies(self):
        return [Policy(p) for p in list(self._m.attached_policies)]


class OU(_Target):
    __slots__ = ()

    @property
    def parent_id(self):
        return getattr(self._m, "parent_id", None)

    @property
    def is_root(self):
        return self._m.type == "ROOT"

    def describe(self):
        return {"Id": self._m.id, "Arn": self._m.arn, "Name": self._m.name}

    def rename(self, name):
        self._m.name = name

    def enabled_policy_types(self):
        return {t["Type"] for t in list(getattr(self._m, "policy_types", []))
                if t.get("Status") == "ENABLED"}

    def enable_policy_type(self, policy_type):
        if policy_type not in self.enabled_policy_types():
            self._m.policy_types.append({"Type": policy_type, "Status": "ENABLED"})


class Account(_Target):
    __slots__ = ()

    email = property(lambda self: self._m.email)
    parent_id = property(lambda self: self._m.parent_id)

    def rename(self, name):
        self._m.name = name
    create_request_id = property(lambda self: self._m.create_account_status_id)

    @property
    def state(self):
        return getattr(self._m, "state", None) or self._m.status

    def set_state(self, state):
        """Set the account's State (and moto's legacy Status where it has a value)."""
        self._m.state = state
        legacy = {"ACTIVE": "ACTIVE", "SUSPENDED": "SUSPENDED", "PENDING_CLOSURE": "PENDING_CLOSURE",
                  "CLOSED": "SUSPENDED", "PENDING_ACTIVATION": "ACTIVE"}
        self._m.status = legacy[state]

    @property
    def joined(self):
        """Epoch seconds the account joined (moto keeps a naive UTC datetime)."""
        return self._m.create_time.replace(tzinfo=datetime.timezone.utc).timestamp()

    def create_status(self):
        """moto's CreateAccountStatus for this account (a dict)."""
        return dict(self._m.create_account_status["CreateAccountStatus"])


class Organization:
    """An Organizations backend that holds an organization."""

    def __init__(self, backend):
        self._b = backend

    def __eq__(self, other):
        return isinstance(other, Organization) and other._b is self._b

    __hash__ = object.__hash__

    id = property(lambda self: self._b.org.id)
    root_id = property(lambda self: self._b.org.root_id)
    management_account = property(lambda self: self._b.org.master_account_id)
    exists = property(lambda self: self._b.org is not None)

    # --- reads
    def ous(self):
        """Root and OUs."""
        return [OU(o) for o in list(self._b.ou)]

    def root(self):
        return next(o for o in self.ous() if o.is_root)

    def find_ou(self, ou_id):
        """A root or OU by id."""
        return next((o for o in self.ous() if o.id == ou_id), None)

    def accounts(self):
        return [Account(a) for a in list(self._b.accounts)]

    def find_account(self, account_id):
        return next((a for a in self.accounts() if a.id == account_id), None)

    def find_target(self, target_id):
        return self.find_ou(target_id) or self.find_account(target_id)

    def policies(self):
        return [Policy(p) for p in list(self._b.policies)]

    def find_policy(self, policy_id):
        return next((p for p in self.policies() if p.id == policy_id), None)

    def trusted_services(self):
        """Service principals with trusted access (EnableAWSServiceAccess)."""
        return [s["ServicePrincipal"] for s in list(self._b.services)]

    def enable_service_access(self, principal):
        self._b.enable_aws_service_access(ServicePrincipal=principal)

    def delegated_admins(self):
        """[(account id, [service principals])]."""
        return [(a.account.id, list(a.services)) for a in list(self._b.admins)]

    # --- writes (callers hold the Organizations lock)
    def register_delegated_admin(self, account_id, principal):
        self._b.register_delegated_administrator(AccountId=account_id, ServicePrincipal=principal)

    def deregister_delegated_admin(self, account_id, principal):
        self._b.deregister_delegated_administrator(AccountId=account_id, ServicePrincipal=principal)

    def attach_policy(self, policy_id, target_id):
        self._b.attach_policy(PolicyId=policy_id, TargetId=target_id)

    def create_policy(self, name, description, policy_type, content):
        policy = _models().FakePolicy(self._b.org, Name=name, Description=description,
                                      Type=policy_type, Content=content)
        self._b.policies.append(policy)
        return Policy(policy)

    def delete_ou(self, ou_id):
        """Remove an OU and drop it from its policies' targets (moto leaves it there)."""
        ou = next(o for o in self._b.ou if o.id == ou_id)
        for policy in list(ou.attached_policies):
            if ou in policy.attachments:
                policy.attachments.remove(ou)
        self._b.ou.remove(ou)

    def create_account(self, name, email):
        """Create an account in the root, as CreateAccount does; returns it."""
        status = self._b.create_account(AccountName=name, Email=email)
        return self.find_account(status["CreateAccountStatus"]["AccountId"])

    def move_account(self, account_id, destination_id):
        account = next(a for a in self._b.accounts if a.id == account_id)
        account.parent_id = destination_id

    def detach_account(self, account_id):
        """Take an account out of every listing and policy target; returns a token
        for ``reattach_account``."""
        account = next((a for a in self._b.accounts if a.id == account_id), None)
        if account is None:
            return None
        self._b.accounts.remove(account)
        for policy in account.attached_policies:
            if account in policy.attachments:
                policy.attachments.remove(account)
        return account

    def reattach_account(self, token):
        self._b.accounts.append(token)
        for policy in token.attached_policies:
            if token not in policy.attachments:
                policy.attachments.append(token)
        return Account(token)

    @staticmethod
    def held_account(token):
        return Account(token)


# ----------------------------------------------------------- other services
def guardduty_detector_exists(account_id, region, detector_id):
    from moto.guardduty.models import guardduty_backends

    return detector_id in guardduty_backends[account_id][region].detectors


def guardduty_detector_ids(account_id, region):
    from moto.guardduty.models import guardduty_backends

    return list(guardduty_backends[account_id][region].detectors)


def securityhub_enabled(account_id, region):
    from moto.securityhub.models import securityhub_backends

    return bool(getattr(securityhub_backends[account_id][region], "enabled", False))


# ------------------------------------------------------- stack set stacks
def _stack_by_name(backend, name):
    return next((s for s in list(backend.stacks.values()) if s.name == name), None)


def deploy_stack(account_id, region, name, template, parameters, tags):
    """Create (or update) the stack ``name`` of a stack instance in the member
    account and region with moto's CloudFormation engine, so the template's
    resources moto supports (IAM roles, EventBridge rules, ...) exist there.
    Returns ``(stack_id, None)``, or ``(None, reason)`` when the template does
    not deploy (a failed creation is rolled back)."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account_id][region]
    existing = _stack_by_name(backend, name)
    try:
        if existing is None:
            stack = backend.create_stack(name=name, template=template,
                                         parameters=dict(parameters), tags=dict(tags))
        else:
            incoming = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
            stack = backend.update_stack(name=name, template=template, role_arn=None,
                                         parameters=incoming, tags=dict(tags))
        return stack.stack_id, None
    except Exception as exc:  # moto's own errors carry the message a stack would show
        if existing is None and _stack_by_name(backend, name) is not None:
            try:
                backend.delete_stack(name)
            except Exception:
                pass
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return None, f"{type(exc).__name__}: {message}"


def delete_stack(account_id, region, name):
    """Delete a stack instance's stack (and its resources) if it exists."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account_id][region]
    if _stack_by_name(backend, name) is not None:
        backend.delete_stack(name)
