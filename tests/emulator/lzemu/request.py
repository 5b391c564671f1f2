"""Identify service, operation, protocol, parameters and caller of an AWS request."""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from . import classify

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

# X-Amz-Target prefixes -> service, for unsigned or oddly signed JSON requests.
_TARGET_PREFIXES = {
    "AWSOrganizationsV20161128": "organizations",
    "StarlingDoveService": "config",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
    "AWS242ServiceCatalogService": "servicecatalog",
}
# Smithy RPC v2 CBOR: POST /service/<service shape>/operation/<Operation>
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
_QUERY_SERVICES = {"sts", "iam", "cloudformation"}
_REST_JSON_SERVICES = {"controltower", "guardduty", "securityhub", "account"}



@dataclass
class RequestInfo:
    service: str
    operation: str
    protocol: str  # "json", "query", "rest-json", "control" or "unknown"
    params: dict = field(default_factory=dict)
    access_key: str = ""
    region: str = "us-east-1"
    account_header: str = ""
    method: str = "POST"
    named: bool = True  # False when the operation is only "METHOD /path"
    _class: tuple = None

    @property
    def key(self):
        return f"{self.service}:{self.operation}"

    @property
    def classification(self):
        """(read | mutating | unknown, basis), from classify.py."""
        if self._class is None:
            self._class = classify.classify(self.service, self.operation, self.method, self.named)
        return self._class

    @property
    def mutating(self):
        """Unknown operations count as mutating: never silently a read."""
        return self.classification[0] != classify.READ


def _query_params(text):
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text, keep_blank_values=True).items()}


def describe(environ, body, rest_json_operation=None):
    """Build a RequestInfo. ``rest_json_operation(service, method, path)`` names
    rest-json operations for services the emulator knows (e.g. Control Tower)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    access_key, region, service = "", "us-east-1", ""
    match = _SCOPE.search(auth)
    if match:
        access_key, region, service = match.group(1), match.group(2), match.group(3).lower()
    if target and not service:
        prefix = target.split(".")[0] if "." in target else target
        service = _TARGET_PREFIXES.get(target.rsplit(".", 1)[0], prefix.lower())

    params = {}
    named = True
    cbor_path = _CBOR_PATH.match(path) if method == "POST" else None
    if cbor_path and (environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor" or not target):
        from . import cbor

        protocol = "rpc-v2-cbor"
        operation = cbor_path.group(2)
        service = service or _TARGET_PREFIXES.get(cbor_path.group(1), cbor_path.group(1).lower())
        try:
            params = cbor.decode(body)
        except ValueError:
            params = {}
    elif target:
        protocol = "json"
        operation = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    elif service in _REST_JSON_SERVICES:
        protocol = "rest-json"
        operation = None
        if rest_json_operation:
            operation = rest_json_operation(service, method, path)
        named = operation is not None
        operation = operation or f"{method} {path}"
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            params = {}
    else:
        params = _query_params(environ.get("QUERY_STRING", ""))
        ctype = environ.get("CONTENT_TYPE", "")
        if body and ctype.startswith("application/x-www-form-urlencoded"):
            params.update(_query_params(body.decode("utf-8", "replace")))
        if "Action" in params:
            protocol = "query"
            operation = params["Action"]
        else:
            protocol = "unknown"
            operation = f"{method} {path}"
            named = False
        if not service and protocol == "query":
            service = "sts" if operation in ("AssumeRole", "GetCallerIdentity") else "unknown"
    if service in _QUERY_SERVICES and protocol == "unknown":
        protocol = "query"
    return RequestInfo(
        service=service or "unknown",
        operation=operation,
        protocol=protocol,
        params=params if isinstance(params, dict) else {},
        access_key=access_key,
        region=region,
        account_header=environ.get("HTTP_X_MOTO_ACCOUNT_ID", ""),
        method=method,
        named=named,
    )
