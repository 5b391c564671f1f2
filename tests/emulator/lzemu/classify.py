"""Read or mutating? Decided from the botocore service models the venv ships.

For ``service:Operation`` the first rule that applies decides:

1. ``EXCEPTIONS``: a short table of operations (or whole services) whose name or
   model says otherwise than what they do (DetectStackSetDrift starts a stack set
   operation; STS never changes the landing zone).
2. The model's ``readonly: true`` trait (Smithy's @readonly; present in the
   controltower, guardduty and securityhub models).
3. For rest-json / rest-xml services, the model's HTTP method: GET and HEAD read,
   PUT, PATCH and DELETE mutate (POST decides nothing: Control Tower lists with POST).
4. The operation name's verb (its first CamelCase word, two for ``Batch*``) in
   ``READ_VERBS`` or ``MUTATING_VERBS``.

Anything else is ``unknown``: the request log says so (``classification``), the
emulator records an ``unclassified_operation`` violation and prints a warning, and
treats the call as mutating. Requests whose operation could not be named (e.g. S3
paths) are classified by their HTTP method (GET/HEAD read, anything else mutates).
"""

import re
import threading

READ, MUTATING, UNKNOWN = "read", "mutating", "unknown"

# Services the emulator serves (the test checks every operation of these models).
SERVED_SERVICES = (
    "organizations", "controltower", "cloudformation", "sts", "iam", "guardduty",
    "securityhub", "config", "cloudtrail", "servicecatalog", "s3",
)

# service:Operation (or service:*) -> (class, why)
EXCEPTIONS = {
    "sts:*": (READ, "STS issues credentials; it never changes the landing zone"),
    "cloudformation:DetectStackSetDrift": (MUTATING, "starts a stack set operation (conflicts with others)"),
}

READ_VERBS = frozenset({
    "Describe", "List", "Get", "Search", "Lookup", "Validate", "Estimate", "Simulate",
    "Select", "Scan", "Head", "Decode", "Check", "Preview", "Query", "View", "Detect",
    "BatchGet", "BatchDescribe", "BatchCheck", "BatchList",
})
MUTATING_VERBS = frozenset({
    "Abort", "Accept", "Acquire", "Activate", "Add", "Archive", "Assign", "Associate",
    "Attach", "Authorize", "Cancel", "Change", "Close", "Complete", "Confirm", "Continue",
    "Copy", "Create", "Deactivate", "Decline", "Delete", "Deliver", "Deregister", "Detach",
    "Disable", "Disassociate", "Enable", "Execute", "Generate", "Import", "Invite", "Leave",
    "Modify", "Move", "Notify", "Provision", "Publish", "Put", "Record", "Register",
    "Reject", "Remove", "Rename", "Replace", "Reset", "Restore", "Resync", "Revoke",
    "Rollback", "Rotate", "Run", "Send", "Set", "Signal", "Start", "Stop", "Tag",
    "Terminate", "Test", "Unarchive", "Unassign", "Untag", "Update", "Upload", "Write",
    "BatchAssociate", "BatchCreate", "BatchDelete", "BatchDisable", "BatchDisassociate",
    "BatchEnable", "BatchImport", "BatchPut", "BatchUpdate",
})
_REST = ("rest-json", "rest-xml")
# SigV4 signing names that differ from botocore's service names.
_MODEL_NAMES = {"monitoring": "cloudwatch", "states": "stepfunctions", "email": "ses",
                "tagging": "resourcegroupstaggingapi", "execute-api": "apigateway"}

_lock = threading.Lock()
_models = {}
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*")


def verb(operation):
    words = _WORDS.findall(operation or "")
    if not words:
        return ""
    if words[0] == "Batch" and len(words) > 1:
        return "Batch" + words[1]
    return words[0]


def _model(service):
    name = _MODEL_NAMES.get(service, service)
    with _lock:
        if name not in _models:
            try:
                from botocore.loaders import Loader

                data = Loader().load_service_model(name, "service-2")
                protocol = data["metadata"].get("protocol", "")
                _models[name] = (protocol, data["operations"])
            except Exception:  # no model for this service name
                _models[name] = None
        return _models[name]


def operations(service):
    """Every operation name of a service's model."""
    model = _model(service)
    return sorted(model[1]) if model else []


def classify(service, operation, http_method=None, named=True):
    """(class, basis) for one operation; class is read, mutating or unknown."""
    for key in (f"{service}:{operation}", f"{service}:*"):
        if key in EXCEPTIONS:
            return EXCEPTIONS[key][0], "exception: " + EXCEPTIONS[key][1]
    if not named:
        method = (http_method or "").upper()
        return (READ if method in ("GET", "HEAD") else MUTATING), f"http {method} (operation not identified)"
    model = _model(service)
    op = model[1].get(operation) if model else None
    if op is not None:
        if op.get("readonly"):
            return READ, "model: readonly"
        method = op.get("http", {}).get("method", "POST").upper()
        if model[0] in _REST and method in ("GET", "HEAD"):
            return READ, f"model: http {method}"
        if model[0] in _REST and method in ("PUT", "PATCH", "DELETE"):
            return MUTATING, f"model: http {method}"
    word = verb(operation)
    where = "" if op is not None else " (not in the model)"
    if word in READ_VERBS:
        return READ, f"verb {word}{where}"
    if word in MUTATING_VERBS:
        return MUTATING, f"verb {word}{where}"
    return UNKNOWN, f"no rule for verb {word!r}{where}"
