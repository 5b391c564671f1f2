"""Organizations as AWS enforces it, on top of moto's Organizations backend.

Checks run before moto sees a request (with the Organizations lock held) and read moto's
in-process state; a few operations moto gets wrong are answered here entirely.
Error codes, reasons and messages follow the botocore model (2016-11-28).
"""

import json

from . import motoseam
from .errors import AwsError

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"

_SIZE_SETTING = {
    SCP: "scp_max_size",
    RCP: "rcp_max_size",
    "TAG_POLICY": "tag_max_size",
    "BACKUP_POLICY": "backup_max_size",
    "AISERVICES_OPT_OUT_POLICY": "aiservices_opt_out_max_size",
}
_ATTACH_SETTING = {SCP: "scp_max_attachments", RCP: "rcp_max_attachments"}

# Services AWS lets an organization delegate administration of; moto knows only six.
DELEGATABLE = (
    "securityhub.amazonaws.com",
    "config.amazonaws.com",
    "member.org.stacksets.cloudformation.amazonaws.com",
    "stacksets.cloudformation.amazonaws.com",
    "sso.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "backup.amazonaws.com",
    "inspector2.amazonaws.com",
    "detective.amazonaws.com",
    "fms.amazonaws.com",
    "ipam.amazonaws.com",
)


def _constraint(reason, message):
    return AwsError("ConstraintViolationException", message, Reason=reason)


def _invalid(reason, message):
    return AwsError("InvalidInputException", message, Reason=reason)


def _malformed(detail):
    return AwsError(
        "MalformedPolicyDocumentException",
        "The provided policy document doesn't meet the requirements of the specified "
        f"policy type. {detail}",
    )


def validate_policy_content(policy_type, content, limits):
    """Raise MalformedPolicyDocument or ConstraintViolation for bad policy content."""
    if not isinstance(content, str):
        raise _malformed("Content must be a string.")
    max_size = int(limits.get(_SIZE_SETTING.get(policy_type, "other_max_size"), 10000))
    if len(content) > max_size:
        raise _constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            "You attempted to create a policy that is larger than the maximum size "
            f"({len(content)} > {max_size} characters for {policy_type}).",
        )
    try:
        doc = json.loads(content)
    except ValueError as err:
        raise _malformed(f"Invalid JSON: {err}.") from None
    if not isinstance(doc, dict):
        raise _malformed("The document must be a JSON object.")
    if policy_type not in (SCP, RCP):
        return
    if "Version" in doc and doc["Version"] not in ("2012-10-17", "2008-10-17"):
        raise _malformed("Unsupported Version.")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _malformed("Missing Statement.")
    for stmt in statements:
        if not isinstance(stmt, dict):
            raise _malformed("Each Statement must be an object.")
        if stmt.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Effect must be Allow or Deny.")
        if ("Action" in stmt) == ("NotAction" in stmt):
            raise _malformed("Each statement needs exactly one of Action or NotAction.")
        if policy_type == SCP and ("Principal" in stmt or "NotPrincipal" in stmt):
            raise _malformed("SCPs do not support Principal or NotPrincipal.")
        if policy_type == RCP and "Principal" not in stmt and "NotPrincipal" not in stmt:
            raise _malformed("RCP statements need a Principal.")


class OrganizationsRules:
    def __init__(self, emulator):
        from .accounts import PendingAccounts

        self.emulator = emulator
        self._without_scp = set()
        self.pending_accounts = PendingAccounts(emulator)
        motoseam.extend_delegatable(DELEGATABLE)

    def reset(self):
        self._without_scp = set()
        self.pending_accounts.reset()

    def tick(self):
        self.pending_accounts.tick()

    # ------------------------------------------------------------ state access
    @staticmethod
    def backend(account):
        """The organization ``account``'s backend holds, or None."""
        return motoseam.organization_of(account)

    @staticmethod
    def management_backend():
        """The organization that exists, if one does."""
        return motoseam.management_organization()

    @staticmethod
    def root(org):
        return org.root()

    @staticmethod
    def find_ou(org, ou_id):
        return org.find_ou(ou_id)

    @staticmethod
    def find_account(org, account_id):
        return org.find_account(account_id)

    def find_target(self, org, target_id):
        return org.find_target(target_id)

    def depth(self, org, ou):
        """Levels below the root: root 0, its children 1, ..."""
        level = 0
        while ou is not None and not ou.is_root:
            level += 1
            ou = org.find_ou(ou.parent_id)
        return level

    def subtree_ou_ids(self, org, ou_id):
        """ou_id and every OU below it."""
        ous = org.ous()
        found, frontier = [ou_id], [ou_id]
        while frontier:
            children = [ou.id for ou in ous if ou.parent_id in frontier]
            found.extend(children)
            frontier = children
        return found

    def accounts_under(self, org, ou_id):
        ids = set(self.subtree_ou_ids(org, ou_id))
        return [a.id for a in org.accounts() if a.parent_id in ids and a.state == "ACTIVE"]

    @staticmethod
    def enabled_types(org):
        return org.root().enabled_policy_types()

    class Paths:
        """OU Path and account Paths as AWS gives them since 2026-03-31:
        ``o-.../r-.../ou-.../`` for an OU (its own id last) and
        ``o-.../r-.../ou-.../<account id>/`` for an account."""

        def __init__(self, org):
            self.prefix = f"{org.id}/{org.root_id}/"
            self.parent = {ou.id: ou.parent_id for ou in org.ous() if not ou.is_root}
            self.accounts = {a.id: a for a in org.accounts()}
            self._cache = {org.root_id: self.prefix}

        def ou(self, ou_id):
            if ou_id not in self._cache:
                parent = self.parent.get(ou_id)
                base = self.ou(parent) if parent is not None else self.prefix
                self._cache[ou_id] = f"{base}{ou_id}/"
            return self._cache[ou_id]

        def account(self, account):
            return f"{self.ou(account.parent_id)}{account.id}/"

    def account_view(self, org, item, paths=None):
        """An Account / DelegatedAdministrator as AWS answers now: State, no Status,
        and (for accounts) Paths."""
        out = dict(item)
        out.pop("Status", None)
        account = (paths.accounts.get(item.get("Id", "")) if paths is not None
                   else org.find_account(item.get("Id", "")) if org else None)
        if account is not None:
            out["State"] = account.state
            if paths is not None:
                out["Paths"] = [paths.account(account)]
        return out

    def ou_view(self, org, item, paths):
        out = dict(item)
        if org is not None and item.get("Id"):
            out["Path"] = paths.ou(item["Id"])
        return out

    def _rewrite(self, operation, out):
        """Add State/Paths/Path to moto's answers and drop the retired Status."""
        data = json.loads(out)
        org = self.management_backend()
        if org is None:
            return None
        paths = self.Paths(org)
        if operation == "DescribeAccount" and "Account" in data:
            data["Account"] = self.account_view(org, data["Account"], paths)
        elif operation in ("ListAccounts", "ListAccountsForParent"):
            data["Accounts"] = [self.account_view(org, a, paths) for a in data.get("Accounts", [])]
        elif operation == "ListDelegatedAdministrators":
            data["DelegatedAdministrators"] = [self.account_view(org, a) for a in
                                               data.get("DelegatedAdministrators", [])]
        elif operation in ("DescribeOrganizationalUnit", "CreateOrganizationalUnit") and "OrganizationalUnit" in data:
            data["OrganizationalUnit"] = self.ou_view(org, data["OrganizationalUnit"], paths)
        elif operation == "ListOrganizationalUnitsForParent":
            data["OrganizationalUnits"] = [self.ou_view(org, o, paths) for o in data.get("OrganizationalUnits", [])]
        else:
            return None
        return json.dumps(data, default=str).encode()

    # -------------------------------------------------------------- handlers
    # What a member account may call (AWS: any member may describe its organization
    # and leave it; a delegated administrator of any service may also read).
    _MEMBER_OPERATIONS = {"DescribeOrganization", "LeaveOrganization", "ListHandshakesForAccount",
                          "AcceptHandshake", "DeclineHandshake", "DescribeEffectivePolicy"}

    def _member_call(self, ctx):
        """Calls from accounts that do not hold the organization."""
        master = motoseam.master_of(ctx.account)
        if master is None:
            if ctx.operation in ("CreateOrganization", "DescribeOrganization", "AcceptHandshake",
                                 "ListHandshakesForAccount", "DeclineHandshake"):
                return None
            raise AwsError("AWSOrganizationsNotInUseException",
                           "Your account is not a member of an organization.")
        if ctx.operation in self._MEMBER_OPERATIONS:
            return None
        management = motoseam.organization_of(master)
        is_delegate = management is not None and any(
            account == ctx.account and services for account, services in management.delegated_admins())
        if is_delegate and not ctx.info.mutating:
            # Serve the read from the organization's state, as AWS does for delegated admins.
            ctx.environ["HTTP_X_MOTO_ACCOUNT_ID"] = master
            return None
        raise AwsError("AccessDeniedException",
                       "You don't have permissions to access this resource.")

    def before(self, ctx):
        backend = self.backend(ctx.account)
        if backend is None:
            return self._member_call(ctx)
        method = getattr(self, "_before_" + ctx.operation, None)
        if method is None:
            return None
        return method(ctx, backend, ctx.params)

    def after(self, ctx, status, out):
        """Post-process a moto answer; returns replacement bytes or None."""
        if status >= 400:
            return None
        backend = self.backend(ctx.account)
        if ctx.operation == "CreateOrganization" and backend is not None:
            # With all features, AWS enables SCPs in the new root.
            backend.root().enable_policy_type(SCP)
        if ctx.operation == "MoveAccount":
            params = ctx.params
            self.emulator.controltower.on_account_moved(
                params["AccountId"], params["SourceParentId"], params["DestinationParentId"])
            self.emulator.stacksets.on_account_moved(
                params["AccountId"], params["SourceParentId"], params["DestinationParentId"])
        if ctx.operation == "CreateAccount" and backend is not None:
            try:
                account_id = json.loads(out)["CreateAccountStatus"]["AccountId"]
            except (ValueError, KeyError):
                account_id = None
            if account_id and self.pending_accounts.seconds() > 0:
                status = self.pending_accounts.hold(backend, account_id)
                if status is not None:
                    return json.dumps({"CreateAccountStatus": status}, default=str).encode()
            elif account_id:
                self.emulator.stacksets.on_account_moved(account_id, None, backend.root_id)
        if ctx.operation == "ListCreateAccountStatus":
            extra = self.pending_accounts.statuses()
            if extra:
                data = json.loads(out)
                states = ctx.params.get("States")
                data["CreateAccountStatuses"] = data.get("CreateAccountStatuses", []) + [
                    s for s in extra if not states or s["State"] in states]
                return json.dumps(data, default=str).encode()
        if ctx.operation == "CloseAccount" and backend is not None:
            self.pending_accounts.closed(backend, ctx.params.get("AccountId", ""))
        if ctx.info.mutating:
            self.check_scp_invariant()
        if ctx.operation in self._REWRITTEN:
            return self._rewrite(ctx.operation, out)
        return None

    _REWRITTEN = ("DescribeAccount", "ListAccounts", "ListAccountsForParent", "ListDelegatedAdministrators",
                  "DescribeOrganizationalUnit", "CreateOrganizationalUnit", "ListOrganizationalUnitsForParent")

    def check_scp_invariant(self):
        backend = self.management_backend()
        if backend is None or SCP not in self.enabled_types(backend):
            return
        targets = backend.ous() + [a for a in backend.accounts() if a.state == "ACTIVE"]
        now_without = set()
        for target in targets:
            if not any(p.type == SCP for p in target.policies()):
                now_without.add(target.id)
                if target.id not in self._without_scp:
                    self.emulator.log.violation(
                        "target_without_scp",
                        f"{target.kind} {target.id} ({target.name}) has no SCP attached",
                    )
        self._without_scp = now_without

    # ------------------------------------------------------------- policies
    def _policy(self, org, policy_id):
        return org.find_policy(policy_id)

    def _before_CreatePolicy(self, ctx, backend, params):
        limits = self.emulator.settings.get("limits")
        validate_policy_content(params.get("Type", ""), params.get("Content"), limits)
        return None

    def _before_UpdatePolicy(self, ctx, backend, params):
        policy = self._policy(backend, params.get("PolicyId", ""))
        if policy is None:
            return None
        if policy.aws_managed:
            raise _invalid("IMMUTABLE_POLICY",
                           "You specified a policy that is managed by AWS and can't be modified.")
        if "Content" in params:
            validate_policy_content(policy.type, params["Content"],
                                    self.emulator.settings.get("limits"))
        name = params.get("Name")
        if name and any(p.name == name and p != policy for p in backend.policies()):
            raise AwsError("DuplicatePolicyException",
                           "A policy with the same name already exists.")
        return None

    def _before_DeletePolicy(self, ctx, backend, params):
        policy = self._policy(backend, params.get("PolicyId", ""))
        if policy is not None and policy.aws_managed:
            raise _invalid("IMMUTABLE_POLICY",
                           "You specified a policy that is managed by AWS and can't be modified.")
        return None

    def _before_AttachPolicy(self, ctx, backend, params):
        policy = self._policy(backend, params.get("PolicyId", ""))
        target = self.find_target(backend, params.get("TargetId", ""))
        if policy is None or target is None:
            if policy is not None:
                raise AwsError("TargetNotFoundException",
                               "We can't find a root, OU, account, or policy with the "
                               "TargetId that you specified.")
            return None
        if policy.type not in self.enabled_types(backend):
            raise AwsError(
                "PolicyTypeNotEnabledException",
                "The specified policy type isn't currently enabled in this root. You can't "
                "attach policies of the specified type to entities in a root until you enable "
                "that type in the root.")
        if policy in target.policies():
            raise AwsError("DuplicatePolicyAttachmentException",
                           "The selected policy is already attached to the specified target.")
        limits = self.emulator.settings.get("limits")
        cap = int(limits.get(_ATTACH_SETTING.get(policy.type, "other_max_attachments"), 10))
        attached = sum(1 for p in target.policies() if p.type == policy.type)
        if attached >= cap:
            raise _constraint(
                "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                "You attempted to exceed the number of policies of a certain type that can be "
                f"attached to an entity at one time ({attached} of {cap} {policy.type}).",
            )
        return None

    def _before_DetachPolicy(self, ctx, backend, params):
        policy = self._policy(backend, params.get("PolicyId", ""))
        target = self.find_target(backend, params.get("TargetId", ""))
        if policy is None or target is None:
            return None
        if policy not in target.policies():
            raise AwsError("PolicyNotAttachedException",
                           "The policy isn't attached to the specified target in the specified root.")
        if policy.aws_managed and policy.type == RCP:
            raise _invalid("NON_DETACHABLE_POLICY", "You can't detach this AWS Managed Policy.")
        if policy.type == SCP:
            minimum = int(self.emulator.settings.get("limits", "scp_min_attachments", default=1))
            remaining = sum(1 for p in target.policies() if p.type == SCP) - 1
            if remaining < minimum:
                raise _constraint(
                    "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                    "You attempted to detach a policy from an entity that would cause the "
                    "entity to have fewer than the minimum number of policies of a certain "
                    "type required.",
                )
        return None

    # ------------------------------------------------------------------ OUs
    def _check_sibling_name(self, backend, parent_id, name, exclude=None):
        for ou in backend.ous():
            if ou.parent_id == parent_id and ou.name == name and ou != exclude:
                raise AwsError("DuplicateOrganizationalUnitException",
                               "An OU with the same name already exists.")

    def _before_CreateOrganizationalUnit(self, ctx, backend, params):
        parent = self.find_ou(backend, params.get("ParentId", ""))
        if parent is None:
            raise AwsError("ParentNotFoundException",
                           "We can't find a root or OU with the ParentId that you specified.")
        max_depth = int(self.emulator.settings.get("limits", "max_ou_depth", default=5))
        if self.depth(backend, parent) + 1 > max_depth:
            raise _constraint("OU_DEPTH_LIMIT_EXCEEDED",
                              "You attempted to create an OU tree that is too many levels deep.")
        self._check_sibling_name(backend, parent.id, params.get("Name"))
        return None

    def _before_UpdateOrganizationalUnit(self, ctx, backend, params):
        # moto checks names organization-wide (and against the OU itself): answer here.
        ou = self.find_ou(backend, params.get("OrganizationalUnitId", ""))
        if ou is None or ou.is_root:
            raise AwsError("OrganizationalUnitNotFoundException",
                           "We can't find an OU with the OrganizationalUnitId that you specified.")
        name = params.get("Name")
        if name:
            self._check_sibling_name(backend, ou.parent_id, name, exclude=ou)
            ou.rename(name)
        return 200, {"OrganizationalUnit": self.ou_view(backend, ou.describe(), self.Paths(backend))}

    def _before_DeleteOrganizationalUnit(self, ctx, backend, params):
        ou = self.find_ou(backend, params.get("OrganizationalUnitId", ""))
        if ou is None or ou.is_root:
            raise AwsError("OrganizationalUnitNotFoundException",
                           "We can't find an OU with the OrganizationalUnitId that you specified.")
        if any(o.parent_id == ou.id for o in backend.ous()) or any(
            a.parent_id == ou.id for a in backend.accounts()
        ):
            raise AwsError(
                "OrganizationalUnitNotEmptyException",
                "The specified OU is not empty. Move all accounts to another root or to other "
                "OUs, remove all child OUs, and try the operation again.",
            )
        # moto leaves the deleted OU among its policies' targets: delete it cleanly.
        backend.delete_ou(ou.id)
        return 200, {}

    # ------------------------------------------------------------- accounts
    def _before_CreateAccount(self, ctx, backend, params):
        """An email already in use: accepted, then FAILED with EMAIL_ALREADY_EXISTS."""
        email = (params.get("Email") or "").casefold()
        taken = [a.email for a in backend.accounts()] + self.pending_accounts.pending_emails()
        if email and any((e or "").casefold() == email for e in taken):
            status = self.pending_accounts.fail(params.get("AccountName"), params.get("Email"),
                                                "EMAIL_ALREADY_EXISTS")
            return 200, {"CreateAccountStatus": status}
        return None

    def _before_DescribeCreateAccountStatus(self, ctx, backend, params):
        status = self.pending_accounts.status(params.get("CreateAccountRequestId", ""))
        return (200, {"CreateAccountStatus": status}) if status else None

    def _before_MoveAccount(self, ctx, backend, params):
        source = self.find_ou(backend, params.get("SourceParentId", ""))
        if source is None:
            raise AwsError("SourceParentNotFoundException",
                           "We can't find a source root or OU with the ParentId that you specified.")
        if self.find_ou(backend, params.get("DestinationParentId", "")) is None:
            raise AwsError("DestinationParentNotFoundException",
                           "We can't find a destination root or OU with the ParentId that you specified.")
        account = self.find_account(backend, params.get("AccountId", ""))
        if account is None or account.parent_id != source.id:
            raise AwsError(
                "AccountNotFoundException",
                "We can't find an AWS account with the AccountId that you specified "
                "under the SourceParentId that you specified.",
            )
        if account.parent_id == params["DestinationParentId"]:
            raise AwsError("DuplicateAccountException",
                           "That account is already present in the specified destination.")
        return None
