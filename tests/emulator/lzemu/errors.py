"""AWS error responses in each protocol's wire format."""

import json
import uuid
from xml.sax.saxutils import escape

# Each service's throttling error, as the AWS SDKs classify it as retryable.
_THROTTLE = {
    "organizations": (400, "TooManyRequestsException"),
    "controltower": (429, "ThrottlingException"),
    "guardduty": (429, "TooManyRequestsException"),
    "securityhub": (429, "TooManyRequestsException"),
}
_SERVER_ERROR = {
    "organizations": (500, "ServiceException"),
    "controltower": (500, "InternalServerException"),
}


class AwsError(Exception):
    """Raised by emulator handlers; rendered in the caller's protocol."""

    def __init__(self, code, message, status=400, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


def render(info, err):
    """Return (status, headers, body) for ``err`` in the protocol of ``info``."""
    request_id = str(uuid.uuid4())
    if info.protocol == "query":
        body = (
            '<ErrorResponse xmlns="https://{svc}.amazonaws.com/doc/">'
            "<Error><Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message></Error>"
            "<RequestId>{rid}</RequestId></ErrorResponse>"
        ).format(
            svc=info.service,
            kind="Receiver" if err.status >= 500 else "Sender",
            code=escape(err.code),
            msg=escape(err.message),
            rid=request_id,
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        return err.status, headers, body.encode()
    if info.protocol == "rpc-v2-cbor":
        from . import cbor

        payload = {"__type": err.code, "message": err.message, **err.extra}
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                   ("x-amzn-ErrorType", err.code), ("x-amzn-RequestId", request_id)]
        return err.status, headers, cbor.encode(payload)
    if info.protocol == "rest-json":
        payload = {"message": err.message, **err.extra}
        content_type = "application/json"
    else:
        payload = {"__type": err.code, "Message": err.message, **err.extra}
        content_type = "application/x-amz-json-1.1"
    headers = [
        ("Content-Type", content_type),
        ("x-amzn-ErrorType", err.code),
        ("x-amzn-RequestId", request_id),
    ]
    return err.status, headers, json.dumps(payload).encode()


# What Organizations says when a caller bursts (as quoted in aws/aws-sdk-js#2135,
# org-formation/org-formation-cli#280 and #449).
_ORGANIZATIONS_BUSY = ("AWS Organizations can't complete your request because another "
                       "request is already in progress. Try again later.")


def throttle_error(service):
    status, code = _THROTTLE.get(service, (400, "Throttling"))
    if service not in _THROTTLE and service not in ("cloudformation", "sts", "iam"):
        code = "ThrottlingException"
    message = _ORGANIZATIONS_BUSY if service == "organizations" else "Rate exceeded"
    return AwsError(code, message, status)


def server_error(service):
    status, code = _SERVER_ERROR.get(service, (500, "InternalFailure"))
    return AwsError(code, "We encountered an internal error. Please try again.", status)
