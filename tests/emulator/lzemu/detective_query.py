"""AWS Config advanced queries through an aggregator (SelectAggregateResourceConfig)
over the seeded evaluation results, as ``AWS::Config::ResourceCompliance``
configuration items: one per evaluated resource (account, region, type, id),
``configuration.complianceType`` NON_COMPLIANT when any rule finds it so,
``configuration.configRuleList`` every rule that evaluated it.

The query language is the subset lzctl uses: ``SELECT f1, f2, ... WHERE
a = 'x' AND b = 'y'`` with dotted property paths; anything else is
``InvalidExpressionException``. Other resource types have no items here.

A mixin of ``detective.DetectiveServices``: methods ``_config_<Operation>``.
"""

import json
import re

from .errors import AwsError

_QUERY = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+WHERE\s+(?P<where>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"^\s*(?P<field>[A-Za-z][\w.]*)\s*=\s*'(?P<value>[^']*)'\s*$")


def _invalid(message):
    return AwsError("InvalidExpressionException", message, 400)


def _get(item, path):
    for part in path.split("."):
        if not isinstance(item, dict) or part not in item:
            return None
        item = item[part]
    return item


def _put(out, path, value):
    parts = path.split(".")
    for part in parts[:-1]:
        out = out.setdefault(part, {})
    out[parts[-1]] = value


def parse(expression):
    """(fields, [(field, value)]) of ``SELECT ... WHERE a = 'x' AND ...``."""
    m = _QUERY.match(expression or "")
    if not m:
        raise _invalid("lzemu understands SELECT <fields> WHERE <field> = '<value>' [AND ...].")
    fields = [f.strip() for f in m.group("fields").split(",") if f.strip()]
    conditions = []
    for part in re.split(r"\s+AND\s+", m.group("where"), flags=re.IGNORECASE):
        c = _CONDITION.match(part)
        if not c:
            raise _invalid(f"lzemu does not understand the condition {part.strip()!r}.")
        conditions.append((c.group("field"), c.group("value")))
    return fields, conditions


class QueryMixin:
    def _resource_compliance_items(self, evaluations):
        groups = {}
        for e in evaluations:
            key = (e["AccountId"], e["AwsRegion"], e["ResourceType"], e["ResourceId"])
            groups.setdefault(key, []).append(e)
        items = []
        for (account, region, rtype, rid), evals in sorted(groups.items()):
            types = {e["ComplianceType"] for e in evals}
            if "NON_COMPLIANT" in types:
                overall = "NON_COMPLIANT"
            elif "COMPLIANT" in types:
                overall = "COMPLIANT"
            elif "INSUFFICIENT_DATA" in types:
                overall = "INSUFFICIENT_DATA"
            else:
                overall = "NOT_APPLICABLE"
            items.append({
                "accountId": account, "awsRegion": region,
                "resourceId": f"{rtype}/{rid}", "resourceType": "AWS::Config::ResourceCompliance",
                "configuration": {
                    "complianceType": overall, "targetResourceId": rid, "targetResourceType": rtype,
                    "configRuleList": [{"configRuleName": e["ConfigRuleName"], "complianceType": e["ComplianceType"]}
                                       for e in sorted(evals, key=lambda e: e["ConfigRuleName"])],
                }})
        return items

    def _config_SelectAggregateResourceConfig(self, ctx, params):
        agg = self._aggregator(ctx, params.get("ConfigurationAggregatorName"))
        fields, conditions = parse(params.get("Expression"))
        items = []
        if ("resourceType", "AWS::Config::ResourceCompliance") in conditions:
            seen = self._aggregated(ctx, agg)
            key = ("resource-compliance", agg.get("ConfigurationAggregatorArn"), self.evaluations_seq, id(seen))
            if key not in self._compliance_cache:
                self._compliance_cache[key] = self._resource_compliance_items(seen)
            items = self._compliance_cache[key]
        items = [i for i in items if all(str(_get(i, f)) == v for f, v in conditions)]
        rows = []
        for item in items:
            row = {}
            for f in fields:
                value = _get(item, f)
                if value is not None:
                    _put(row, f, value)
            rows.append(json.dumps(row, separators=(",", ":")))
        limit = int(params.get("Limit") or params.get("MaxResults") or 100)
        if limit > 100:
            raise AwsError("InvalidLimitException", "Limit is at most 100.", 400)
        page = self._config_page({"Limit": limit, "NextToken": params.get("NextToken")}, rows, "Results")
        page["QueryInfo"] = {"SelectFields": [{"Name": f} for f in fields]}
        return page
