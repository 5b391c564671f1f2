"""Service Catalog's "AWS Control Tower Account Factory" (API 2015-12-10).

moto's Service Catalog knows portfolios and products but cannot provision; the
emulator serves the Account Factory product itself (in the landing zone's home
region, while a landing zone exists) and leaves every other Service Catalog call
to moto. Both wire protocols are accepted: awsJson1_1 (X-Amz-Target
AWS242ServiceCatalogService.<Op>, what boto3 sends) and Smithy RPC v2 CBOR
(POST /service/AWS242ServiceCatalogService/operation/<Op>).

ProvisionProduct with AccountName, AccountEmail, ManagedOrganizationalUnit
("Name (ou-id)" or a unique OU name), SSOUserEmail, SSOUserFirstName and
SSOUserLastName creates the account in Organizations, moves it into the OU and
enrolls it (a Control Tower account operation): the provisioned product is
UNDER_CHANGE and its record IN_PROGRESS for ``controltower_operation_seconds``,
then AVAILABLE / SUCCEEDED, or ERROR / FAILED with the reason in RecordErrors.
"""

import random
import re
import string

from .cbor import Timestamp
from .errors import AwsError

PRODUCT_NAME = "AWS Control Tower Account Factory"
ARTIFACT_NAME = "AWS Control Tower Account Factory Template"
PORTFOLIO_NAME = "AWS Control Tower Account Factory Portfolio"
PP_TYPE = "CONTROL_TOWER_ACCOUNT"
PARAMETERS = [
    ("AccountName", "Account name"),
    ("AccountEmail", "Account email, must be unique for each AWS account"),
    ("ManagedOrganizationalUnit", "Managed organizational unit, as \"Name (ou-id)\""),
    ("SSOUserEmail", "Email address of the IAM Identity Center user"),
    ("SSOUserFirstName", "First name of the IAM Identity Center user"),
    ("SSOUserLastName", "Last name of the IAM Identity Center user"),
]
REQUIRED = [key for key, _ in PARAMETERS]
OUTPUT_KEYS = ("AccountId", "AccountEmail", "SSOUserEmail", "SSOUserPortal")
OPERATIONS = {
    "SearchProducts", "SearchProductsAsAdmin", "DescribeProduct", "DescribeProductAsAdmin",
    "DescribeProductView", "ListProvisioningArtifacts", "DescribeProvisioningArtifact",
    "ListLaunchPaths", "DescribeProvisioningParameters", "ProvisionProduct", "DescribeRecord",
    "ListRecordHistory", "DescribeProvisionedProduct", "SearchProvisionedProducts",
    "ScanProvisionedProducts", "GetProvisionedProductOutputs", "TerminateProvisionedProduct",
    "UpdateProvisionedProduct",
}
_OU_WITH_ID = re.compile(r"^(?P<name>.*?)\s*\((?P<id>ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})\)\s*$")
# SearchQuery field names (the model's list) -> ProvisionedProductAttribute members
_FIELDS = {
    "arn": "Arn", "createdtime": "CreatedTime", "id": "Id", "lastrecordid": "LastRecordId",
    "idempotencytoken": "IdempotencyToken", "name": "Name", "physicalid": "PhysicalId",
    "productid": "ProductId", "provisioningartifactid": "ProvisioningArtifactId", "type": "Type",
    "status": "Status", "tags": "Tags", "userarn": "UserArn", "userarnsession": "UserArnSession",
    "lastprovisioningrecordid": "LastProvisioningRecordId",
    "lastsuccessfulprovisioningrecordid": "LastSuccessfulProvisioningRecordId",
    "productname": "ProductName", "provisioningartifactname": "ProvisioningArtifactName",
}


def _sid(prefix, n=13):
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _invalid(message):
    return AwsError("InvalidParametersException", message, 400)


def _not_found(message):
    return AwsError("ResourceNotFoundException", message, 400)


def _page(items, params, key):
    try:
        start = int(params.get("PageToken") or 0)
    except ValueError:
        raise _invalid("Invalid PageToken.") from None
    size = int(params.get("PageSize") or 20)
    out = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextPageToken"] = str(start + size)
    return out


class ServiceCatalog:
    def __init__(self, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.product = None
        self.provisioned = {}  # pp id -> provisioned product
        self.records = {}  # record id -> record
        self.tokens = {}  # ProvisionToken -> record id
        self._staged = 0

    # ------------------------------------------------------------- helpers
    @property
    def ct(self):
        return self.emulator.controltower

    def _now(self):
        return self.emulator.clock.now()

    def _account(self):
        return self.ct._management_account()

    def _ensure_product(self, region):
        """The Account Factory product exists while a landing zone does, in its home region."""
        ct = self.ct
        ct.tick()
        ct._ensure_landing_zone(region)
        if ct.landing_zone is None or region != ct.region:
            return None
        if self.product is None:
            self.product = {
                "ProductId": _sid("prod-"), "ViewId": _sid("prodview-"), "ArtifactId": _sid("pa-"),
                "PortfolioId": _sid("port-"), "PathId": _sid("lpv3-"), "Created": self._now(),
                "Region": ct.region,
            }
        return self.product

    def _summary(self):
        p = self.product
        return {"Id": p["ViewId"], "ProductId": p["ProductId"], "Name": PRODUCT_NAME,
                "Owner": "AWS Control Tower", "ShortDescription": ARTIFACT_NAME,
                "Type": "CLOUD_FORMATION_TEMPLATE", "Distributor": "", "HasDefaultPath": False,
                "SupportEmail": "", "SupportDescription": "", "SupportUrl": ""}

    def _detail(self):
        p = self.product
        return {"ProductViewSummary": self._summary(), "Status": "AVAILABLE",
                "ProductARN": f"arn:aws:catalog:{p['Region']}:{self._account()}:product/{p['ProductId']}",
                "CreatedTime": Timestamp(p["Created"])}

    def _artifact(self, detail=False):
        p = self.product
        out = {"Id": p["ArtifactId"], "Name": ARTIFACT_NAME, "Description": ARTIFACT_NAME,
               "CreatedTime": Timestamp(p["Created"])}
        if detail:
            out.update(Type="CLOUD_FORMATION_TEMPLATE", Active=True, Guidance="DEFAULT")
        else:
            out["Guidance"] = "DEFAULT"
        return out

    def _is_product(self, product_id=None, name=None):
        p = self.product
        return p is not None and ((product_id and product_id in (p["ProductId"], p["ViewId"]))
                                  or (name and name == PRODUCT_NAME))

    def _require_product(self, params, id_key="ProductId", name_key="ProductName"):
        if not self._is_product(params.get(id_key), params.get(name_key)):
            raise _not_found("Product not found.")
        return self.product

    def _require_artifact(self, params):
        artifact_id, name = params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName")
        if not artifact_id and not name:
            raise _invalid("ProvisioningArtifactId or ProvisioningArtifactName is required.")
        if artifact_id not in (None, self.product["ArtifactId"]) or name not in (None, ARTIFACT_NAME):
            raise _not_found("Provisioning artifact not found.")

    # ------------------------------------------------------------ handler
    def before(self, ctx):
        if ctx.operation not in OPERATIONS:
            return None
        self._ensure_product(ctx.info.region)
        self._sweep()
        params = ctx.params
        if self.product is None and ctx.operation in ("DescribeProduct", "DescribeProductAsAdmin", "DescribeProductView"):
            return None  # no Account Factory here: moto answers for its own products
        if ctx.operation in ("DescribeProduct", "DescribeProductAsAdmin") and not self._is_product(
                params.get("Id"), params.get("Name")):
            return None
        if ctx.operation == "DescribeProductView" and params.get("Id") != (self.product or {}).get("ViewId"):
            return None
        return 200, getattr(self, "_" + ctx.operation)(ctx, params)

    def after(self, ctx, status, out):
        pass

    # -------------------------------------------------------------- products
    def _SearchProducts(self, ctx, params):
        items = [self._summary()] if self.product and self._product_matches(params) else []
        out = _page(items, params, "ProductViewSummaries")
        out["ProductViewAggregations"] = {}
        return out

    def _SearchProductsAsAdmin(self, ctx, params):
        items = [self._detail()] if self.product and self._product_matches(params) else []
        return _page(items, params, "ProductViewDetails")

    def _product_matches(self, params):
        summary = self._summary()
        for key, values in (params.get("Filters") or {}).items():
            values = [str(v).lower() for v in values or []]
            if key == "FullTextSearch":
                text = " ".join(str(summary[k]) for k in ("Name", "Owner", "ShortDescription")).lower()
                if not any(v in text for v in values):
                    return False
            elif key == "Owner" and summary["Owner"].lower() not in values:
                return False
            elif key == "ProductType" and summary["Type"].lower() not in values:
                return False
            elif key == "SourceProductId" and summary["ProductId"].lower() not in values:
                return False
        return True

    def _DescribeProduct(self, ctx, params):
        return {"ProductViewSummary": self._summary(), "ProvisioningArtifacts": [self._artifact()],
                "Budgets": [], "LaunchPaths": [{"Id": self.product["PathId"], "Name": PORTFOLIO_NAME}]}

    def _DescribeProductAsAdmin(self, ctx, params):
        summary = dict(self._artifact(), ProvisioningArtifactMetadata={})
        summary.pop("Guidance", None)
        return {"ProductViewDetail": self._detail(), "ProvisioningArtifactSummaries": [summary],
                "Tags": [], "TagOptions": [], "Budgets": []}

    def _DescribeProductView(self, ctx, params):
        return {"ProductViewSummary": self._summary(), "ProvisioningArtifacts": [self._artifact()]}

    def _ListProvisioningArtifacts(self, ctx, params):
        self._require_product(params)
        return {"ProvisioningArtifactDetails": [self._artifact(detail=True)]}

    def _DescribeProvisioningArtifact(self, ctx, params):
        self._require_product(params)
        self._require_artifact(params)
        return {"ProvisioningArtifactDetail": self._artifact(detail=True), "Info": {}, "Status": "AVAILABLE"}

    def _ListLaunchPaths(self, ctx, params):
        self._require_product(params)
        return {"LaunchPathSummaries": [{"Id": self.product["PathId"], "ConstraintSummaries": [],
                                         "Tags": [], "Name": PORTFOLIO_NAME}]}

    def _DescribeProvisioningParameters(self, ctx, params):
        self._require_product(params)
        self._require_artifact(params)
        return {
            "ProvisioningArtifactParameters": [
                {"ParameterKey": key, "ParameterType": "String", "IsNoEcho": False, "Description": text,
                 "ParameterConstraints": {"AllowedValues": []}} for key, text in PARAMETERS],
            "ConstraintSummaries": [], "UsageInstructions": [], "TagOptions": [],
            "ProvisioningArtifactPreferences": {},
            "ProvisioningArtifactOutputs": [{"Key": k, "Description": k} for k in OUTPUT_KEYS],
            "ProvisioningArtifactOutputKeys": [{"Key": k, "Description": k} for k in OUTPUT_KEYS],
        }

    # -------------------------------------------------------- provisioning
    def _resolve_ou(self, value):
        """(ou, failure message) for a ManagedOrganizationalUnit value."""
        org = self.ct._org()
        ous = [o for o in org.ous() if not o.is_root] if org else []
        match = _OU_WITH_ID.match(value or "")
        if match:
            ou = next((o for o in ous if o.id == match.group("id")), None)
            if ou is None:
                return None, f"Organizational unit {match.group('id')} not found."
            if match.group("name") and match.group("name") != ou.name:
                return None, (f"ManagedOrganizationalUnit '{value}' does not match the name of "
                              f"{ou.id} ({ou.name}).")
            return ou, None
        named = [o for o in ous if o.name == value]
        if not named:
            return None, f"Organizational unit '{value}' not found."
        if len(named) > 1:
            return None, (f"More than one organizational unit is named '{value}'; "
                          "use the form 'Name (ou-id)'.")
        return named[0], None

    def _validate(self, values):
        """(ou, parent enabled baseline, failure message) for an account request."""
        org = self.ct._org()
        email = values["AccountEmail"].casefold()
        taken = [a.email for a in org.accounts()] + self.emulator.organizations.pending_accounts.pending_emails()
        if any((e or "").casefold() == email for e in taken):
            return None, None, f"AccountEmail {values['AccountEmail']} is already used by an AWS account."
        ou, failure = self._resolve_ou(values["ManagedOrganizationalUnit"])
        if failure:
            return None, None, failure
        parent = self.ct.registered_baseline(ou.id)
        if parent is None:
            return ou, None, (f"Organizational unit {ou.name} ({ou.id}) is not registered with "
                              "AWS Control Tower (no AWSControlTowerBaseline enabled).")
        return ou, parent, None

    def _new_record(self, pp, record_type, params):
        record = {
            "RecordId": _sid("rec-"), "ProvisionedProductName": pp["Name"], "Created": self._now(),
            "ProvisionedProductType": PP_TYPE, "RecordType": record_type,
            "ProvisionedProductId": pp["Id"], "ProductId": pp["ProductId"],
            "ProvisioningArtifactId": pp["ProvisioningArtifactId"], "PathId": self.product["PathId"],
            "RecordTags": [{"Key": t.get("Key"), "Value": t.get("Value")} for t in params.get("Tags") or []],
            "op": None, "failure": None, "outputs": [],
        }
        self.records[record["RecordId"]] = record
        pp["LastRecordId"] = record["RecordId"]
        if record_type != "TERMINATE_PROVISIONED_PRODUCT":
            pp["LastProvisioningRecordId"] = record["RecordId"]
        return record

    def _ProvisionProduct(self, ctx, params):
        self._require_product(params)
        self._require_artifact(params)
        name = params.get("ProvisionedProductName")
        if not name:
            raise _invalid("ProvisionedProductName is required.")
        token = params.get("ProvisionToken")
        if token and token in self.tokens:
            return {"RecordDetail": self._record_view(self.records[self.tokens[token]])}
        if any(pp["Name"] == name for pp in self.provisioned.values()):
            raise AwsError("DuplicateResourceException", f"A provisioned product named {name} already exists.", 400)
        values = {p.get("Key"): p.get("Value") for p in params.get("ProvisioningParameters") or []}
        missing = [key for key in REQUIRED if not values.get(key)]
        if missing:
            raise _invalid(f"ParameterValue not provided for parameter {missing[0]}.")
        pp = {
            "Id": _sid("pp-"), "Name": name, "Type": PP_TYPE, "Created": self._now(),
            "Arn": f"arn:aws:servicecatalog:{self.product['Region']}:{self._account()}:stack/{name}/pp-tbd",
            "IdempotencyToken": token or _sid("tok-"), "ProductId": self.product["ProductId"],
            "ProvisioningArtifactId": self.product["ArtifactId"], "Tags": params.get("Tags") or [],
            "busy_status": "UNDER_CHANGE", "values": values, "account_id": None,
            "LastSuccessfulProvisioningRecordId": None,
        }
        pp["Arn"] = pp["Arn"].replace("pp-tbd", pp["Id"])
        self.provisioned[pp["Id"]] = pp
        record = self._new_record(pp, "PROVISION_PRODUCT", params)
        if token:
            self.tokens[token] = record["RecordId"]
        ou, parent, failure = self._validate(values)
        if failure:
            op = self.ct.start_factory_operation(self.ct._seconds(), name, fail=failure)
        else:
            org = self.ct._org()
            account = org.create_account(values["AccountName"], values["AccountEmail"])
            org.move_account(account.id, ou.id)
            self.emulator.stacksets.on_account_moved(account.id, None, ou.id)
            pp["account_id"] = account.id
            op, _ = self.ct.enroll_account(account, parent, extra_fail=self.ct._ou_fail(ou))
            record["outputs"] = [
                {"OutputKey": "AccountId", "OutputValue": account.id, "Description": "Account ID"},
                {"OutputKey": "AccountEmail", "OutputValue": values["AccountEmail"], "Description": "Account email"},
                {"OutputKey": "SSOUserEmail", "OutputValue": values["SSOUserEmail"], "Description": "SSO user email"},
                {"OutputKey": "SSOUserPortal", "OutputValue": "https://d-9067000000.awsapps.com/start",
                 "Description": "SSO user portal"},
            ]
        pp["op"] = record["op"] = op.id
        return {"RecordDetail": self._record_view(record, created=True)}

    def staged(self, seconds, target, busy_status="UNDER_CHANGE"):
        """The staged account_factory activity: a provisioned product that is busy
        for ``seconds`` (no account behind it)."""
        if busy_status not in ("UNDER_CHANGE", "PLAN_IN_PROGRESS"):
            raise ValueError("product_status is UNDER_CHANGE or PLAN_IN_PROGRESS")
        self._ensure_product(self.ct.region)
        if self.product is None:
            raise ValueError("no landing zone, so no Account Factory")
        self._staged += 1
        name = target or f"lzemu-staged-{self._staged}"
        pp = {
            "Id": _sid("pp-"), "Name": name, "Type": PP_TYPE, "Created": self._now(),
            "Arn": "", "IdempotencyToken": _sid("tok-"), "ProductId": self.product["ProductId"],
            "ProvisioningArtifactId": self.product["ArtifactId"], "Tags": [], "busy_status": busy_status,
            "values": {}, "account_id": None, "LastSuccessfulProvisioningRecordId": None,
        }
        pp["Arn"] = f"arn:aws:servicecatalog:{self.product['Region']}:{self._account()}:stack/{name}/{pp['Id']}"
        self.provisioned[pp["Id"]] = pp
        record = self._new_record(pp, "PROVISION_PRODUCT", {})
        op = self.ct.start_factory_operation(seconds, name)
        pp["op"] = record["op"] = op.id
        return dict(pp)

    def _find_pp(self, params, id_key="ProvisionedProductId", name_key="ProvisionedProductName"):
        pp_id, name = params.get(id_key), params.get(name_key)
        for pp in self.provisioned.values():
            if (pp_id and pp["Id"] == pp_id) or (name and pp["Name"] == name):
                return pp
        raise _not_found("Provisioned product not found.")

    def _TerminateProvisionedProduct(self, ctx, params):
        pp = self._find_pp(params)
        if self._pp_status(pp) in ("UNDER_CHANGE", "PLAN_IN_PROGRESS"):
            raise AwsError("InvalidStateException", "The provisioned product is under change.", 400)
        record = self._new_record(pp, "TERMINATE_PROVISIONED_PRODUCT", params)
        op = self.ct.start_factory_operation(self.ct._seconds(), pp["Name"])
        pp["op"] = record["op"] = op.id
        pp["terminating"] = True
        return {"RecordDetail": self._record_view(record, created=True)}

    def _UpdateProvisionedProduct(self, ctx, params):
        """Only ManagedOrganizationalUnit changes do something: the account moves
        there and is enrolled under the OU's baseline."""
        pp = self._find_pp(params)
        if self._pp_status(pp) in ("UNDER_CHANGE", "PLAN_IN_PROGRESS"):
            raise AwsError("InvalidStateException", "The provisioned product is under change.", 400)
        values = dict(pp["values"])
        for item in params.get("ProvisioningParameters") or []:
            if not item.get("UsePreviousValue") and item.get("Value") is not None:
                values[item["Key"]] = item["Value"]
        record = self._new_record(pp, "UPDATE_PROVISIONED_PRODUCT", params)
        org = self.ct._org()
        account = org.find_account(pp["account_id"]) if pp["account_id"] else None
        failure = None if account else "The provisioned product has no account."
        ou = parent = None
        if not failure:
            ou, failure = self._resolve_ou(values["ManagedOrganizationalUnit"])
        if not failure:
            parent = self.ct.registered_baseline(ou.id)
            if parent is None:
                failure = f"Organizational unit {ou.name} ({ou.id}) is not registered with AWS Control Tower."
        if failure:
            op = self.ct.start_factory_operation(self.ct._seconds(), pp["Name"], fail=failure)
        else:
            source = account.parent_id
            if source != ou.id:
                org.move_account(account.id, ou.id)
                self.emulator.stacksets.on_account_moved(account.id, source, ou.id)
            op, _ = self.ct.enroll_account(account, parent, extra_fail=self.ct._ou_fail(ou))
            pp["values"] = values
            record["outputs"] = self.records[pp["LastSuccessfulProvisioningRecordId"]]["outputs"] \
                if pp.get("LastSuccessfulProvisioningRecordId") else []
        pp["op"] = record["op"] = op.id
        return {"RecordDetail": self._record_view(record, created=True)}

    # ------------------------------------------------------------- reading
    def _op_status(self, op_id):
        op = self.ct.operations.get(op_id)
        return op.status_at(self._now()) if op else "SUCCEEDED", op

    def _sweep(self):
        """Apply finished work: remember successful records, drop terminated products."""
        for pp in list(self.provisioned.values()):
            status, op = self._op_status(pp["op"])
            if status == "SUCCEEDED" and pp.get("terminating"):
                del self.provisioned[pp["Id"]]
                if pp["account_id"]:
                    org = self.ct._org()
                    account = org.find_account(pp["account_id"]) if org else None
                    child = self.ct.account_baseline(account.arn) if account else None
                    if child is not None:
                        self.ct.enabled_baselines.pop(child["arn"], None)
            elif status == "SUCCEEDED" and not pp.get("terminating"):
                pp["LastSuccessfulProvisioningRecordId"] = pp["LastProvisioningRecordId"]

    def _pp_status(self, pp):
        status, op = self._op_status(pp["op"])
        if status == "IN_PROGRESS":
            return pp["busy_status"]
        if status == "FAILED":
            record = self.records[pp["LastRecordId"]]
            return "ERROR" if record["RecordType"] == "PROVISION_PRODUCT" else "TAINTED"
        return "AVAILABLE"

    def _pp_message(self, pp):
        status, op = self._op_status(pp["op"])
        return op.fail if status == "FAILED" and op is not None else None

    def _record_view(self, record, created=False):
        status, op = self._op_status(record["op"])
        out = {k: record[k] for k in ("RecordId", "ProvisionedProductName", "ProvisionedProductType",
                                      "RecordType", "ProvisionedProductId", "ProductId",
                                      "ProvisioningArtifactId", "PathId", "RecordTags")}
        out["Status"] = "CREATED" if created else status
        out["CreatedTime"] = Timestamp(record["Created"])
        out["UpdatedTime"] = Timestamp(op.end if (op and status != "IN_PROGRESS") else record["Created"])
        out["RecordErrors"] = ([{"Code": "ControlTowerAccountFactoryError", "Description": op.fail}]
                               if status == "FAILED" and op is not None else [])
        return out

    def _pp_attribute(self, pp):
        out = {k: pp[k] for k in ("Name", "Arn", "Type", "Id", "IdempotencyToken", "ProductId",
                                  "ProvisioningArtifactId", "Tags")}
        out["Status"] = self._pp_status(pp)
        message = self._pp_message(pp)
        if message:
            out["StatusMessage"] = message
        out["CreatedTime"] = Timestamp(pp["Created"])
        out["LastRecordId"] = pp["LastRecordId"]
        out["LastProvisioningRecordId"] = pp["LastProvisioningRecordId"]
        if self._last_success(pp):
            out["LastSuccessfulProvisioningRecordId"] = self._last_success(pp)
        if pp["account_id"]:
            out["PhysicalId"] = pp["account_id"]
        out["ProductName"] = PRODUCT_NAME
        out["ProvisioningArtifactName"] = ARTIFACT_NAME
        out["UserArn"] = f"arn:aws:iam::{self._account()}:root"
        out["UserArnSession"] = out["UserArn"]
        return out

    def _last_success(self, pp):
        status, _ = self._op_status(pp["op"])
        if status == "SUCCEEDED" and not pp.get("terminating"):
            return pp["LastProvisioningRecordId"]
        return pp.get("LastSuccessfulProvisioningRecordId")

    def _pp_detail(self, pp):
        attribute = self._pp_attribute(pp)
        keep = ("Name", "Arn", "Type", "Id", "Status", "StatusMessage", "CreatedTime", "IdempotencyToken",
                "LastRecordId", "LastProvisioningRecordId", "LastSuccessfulProvisioningRecordId",
                "ProductId", "ProvisioningArtifactId")
        return {k: attribute[k] for k in keep if k in attribute}

    def _DescribeRecord(self, ctx, params):
        record = self.records.get(params.get("Id") or "")
        if record is None:
            raise _not_found("Record not found.")
        status, _ = self._op_status(record["op"])
        outputs = record["outputs"] if status == "SUCCEEDED" else []
        return {"RecordDetail": self._record_view(record), "RecordOutputs": outputs}

    def _check_access(self, params):
        access = params.get("AccessLevelFilter") or {}
        if access and (access.get("Key") not in ("Account", "Role", "User") or access.get("Value") != "self"):
            raise _invalid("AccessLevelFilter: Key is Account, Role or User and Value is self.")

    def _ListRecordHistory(self, ctx, params):
        self._check_access(params)
        search = params.get("SearchFilter") or {}
        items = []
        for record in sorted(self.records.values(), key=lambda r: -r["Created"]):
            if search.get("Key") == "product" and search.get("Value") != record["ProductId"]:
                continue
            if search.get("Key") == "provisionedproduct" and search.get("Value") != record["ProvisionedProductId"]:
                continue
            items.append(self._record_view(record))
        return _page(items, params, "RecordDetails")

    def _DescribeProvisionedProduct(self, ctx, params):
        pp = self._find_pp(params, "Id", "Name")
        return {"ProvisionedProductDetail": self._pp_detail(pp), "CloudWatchDashboards": []}

    @staticmethod
    def _term_matches(view, term):
        term = term.strip()
        if not term:
            return True
        if ":" in term:
            field, value = term.split(":", 1)
            member = _FIELDS.get(field.strip().lower())
            value = value.strip().strip('"').lower()
            if member is None:
                return False
            actual = view.get(member)
            if member == "Tags":
                return any(f"{t.get('Key')}={t.get('Value')}".lower() == value or
                           str(t.get("Key")).lower() == value for t in actual or [])
            return actual is not None and str(actual).lower() == value
        text = term.strip('"').lower()
        return any(text in str(view.get(k, "")).lower() for k in ("Name", "Id", "ProductName", "Arn"))

    def _query_matches(self, view, query):
        for alternative in re.split(r"\s+OR\s+", query.strip()):
            if all(self._term_matches(view, t) for t in re.split(r"\s+AND\s+", alternative)):
                return True
        return False

    def _SearchProvisionedProducts(self, ctx, params):
        """Filters {"SearchQuery": [...]}: every list entry must match; an entry is
        terms joined by AND / OR, a term is field:value (the model's field names,
        case-insensitive exact match) or free text (substring of name, id, product
        name or ARN)."""
        self._check_access(params)
        filters = params.get("Filters") or {}
        unknown = set(filters) - {"SearchQuery"}
        if unknown:
            raise _invalid(f"Unknown filter {sorted(unknown)[0]}; the only filter is SearchQuery.")
        queries = filters.get("SearchQuery") or []
        views = [self._pp_attribute(pp) for pp in self.provisioned.values()]
        items = [v for v in views if all(self._query_matches(v, q) for q in queries)]
        sort_by = (params.get("SortBy") or "createdTime").lower()
        key = {"name": "Name", "arn": "Arn", "id": "Id", "lastrecordid": "LastRecordId"}.get(sort_by, "CreatedTime")
        items.sort(key=lambda v: (str(v.get(key)) if key != "CreatedTime" else float(v["CreatedTime"])))
        if (params.get("SortOrder") or "ASCENDING") == "DESCENDING":
            items.reverse()
        out = _page(items, params, "ProvisionedProducts")
        out["TotalResultsCount"] = len(items)
        return out

    def _ScanProvisionedProducts(self, ctx, params):
        self._check_access(params)
        items = [self._pp_detail(pp) for pp in sorted(self.provisioned.values(), key=lambda p: p["Created"])]
        return _page(items, params, "ProvisionedProducts")

    def _GetProvisionedProductOutputs(self, ctx, params):
        pp = self._find_pp(params)
        last = self._last_success(pp)
        outputs = self.records[last]["outputs"] if last else []
        keys = params.get("OutputKeys")
        if keys:
            outputs = [o for o in outputs if o["OutputKey"] in keys]
        return _page(outputs, params, "Outputs")
