"""CloudTrail: Control Tower's organization trail. With a landing zone whose
manifest has ``centralizedLogging.enabled`` (the default), the management
account has the multi-Region organization trail
``aws-controltower-BaselineCloudTrail`` in Control Tower's home Region,
delivering to ``aws-controltower-logs-<log archive>-<home region>``; it shows
in DescribeTrails (every Region, every account of the organization, as AWS
shows organization trails), GetTrailStatus, and Start/StopLogging (management
account only). Every other trail is moto's.

A mixin of ``detective.DetectiveServices``: methods ``_cloudtrail_<Operation>``.
"""

import json

from .errors import AwsError

CT_TRAIL = "aws-controltower-BaselineCloudTrail"


class CloudTrailMixin:
    def _reset_trail(self):
        self.ct_trail_logging = True
        self.ct_trail_stopped_at = None

    def _ct_trail(self, ctx_region=None):
        """Control Tower's trail as DescribeTrails shows it, or None."""
        ct = self.emulator.controltower
        if ctx_region is not None:
            # The landing zone of the setting appears on the first call that
            # looks for it (the request holds the Control Tower lock).
            ct._ensure_landing_zone(ctx_region)
        lz = ct.landing_zone
        org = self._org()
        if not lz or org is None:
            return None
        logging = (lz.get("manifest") or {}).get("centralizedLogging") or {}
        if not logging.get("enabled", True):
            return None
        region = ct.region
        management = org.management_account
        archive = logging.get("accountId") or next(
            (a.id for a in org.accounts() if a.name.lower().replace(" ", "-") in ("log-archive", "logarchive")),
            management)
        return {
            "Name": CT_TRAIL,
            "S3BucketName": f"aws-controltower-logs-{archive}-{region}",
            "S3KeyPrefix": org.id,
            "IncludeGlobalServiceEvents": True, "IsMultiRegionTrail": True, "HomeRegion": region,
            "TrailARN": f"arn:aws:cloudtrail:{region}:{management}:trail/{CT_TRAIL}",
            "LogFileValidationEnabled": True, "HasCustomEventSelectors": False,
            "HasInsightSelectors": False, "IsOrganizationTrail": True,
        }

    def _is_ct_trail(self, name, region=None):
        trail = self._ct_trail(region)
        return trail is not None and name in (trail["Name"], trail["TrailARN"]), trail

    def _cloudtrail_DescribeTrails(self, ctx, params):
        return None  # moto answers; ``after`` adds Control Tower's trail

    def after_cloudtrail(self, ctx, status, out):
        if ctx.operation != "DescribeTrails" or status >= 400:
            return None
        trail = self._ct_trail(ctx.info.region)
        org = self._org()
        if trail is None or org is None or org.find_account(ctx.account) is None:
            return None
        names = ctx.params.get("trailNameList") or []
        if names and not any(n in (trail["Name"], trail["TrailARN"]) for n in names):
            return None
        shadow = ctx.params.get("includeShadowTrails", True)
        if ctx.info.region != trail["HomeRegion"] and not shadow:
            return None
        data = json.loads(out or b"{}")
        data.setdefault("trailList", []).append(trail)
        return json.dumps(data).encode()

    def _cloudtrail_GetTrailStatus(self, ctx, params):
        hit, trail = self._is_ct_trail(params.get("Name"), ctx.info.region)
        if not hit:
            return None
        out = {"IsLogging": self.ct_trail_logging}
        if self.ct_trail_stopped_at and not self.ct_trail_logging:
            out["StopLoggingTime"] = self.ct_trail_stopped_at
        return out

    def _ct_trail_change(self, ctx, params, logging):
        hit, trail = self._is_ct_trail(params.get("Name"), ctx.info.region)
        if not hit:
            return None
        if ctx.account != self._org().management_account:
            raise AwsError("NotOrganizationMasterAccountException",
                           "Only the management account can change an organization trail.", 400)
        if ctx.info.region != trail["HomeRegion"]:
            raise AwsError("InvalidHomeRegionException",
                           f"Change the trail from its home Region {trail['HomeRegion']}.", 400)
        self.ct_trail_logging = logging
        self.ct_trail_stopped_at = None if logging else self._now()
        return {}

    def _cloudtrail_StartLogging(self, ctx, params):
        return self._ct_trail_change(ctx, params, True)

    def _cloudtrail_StopLogging(self, ctx, params):
        return self._ct_trail_change(ctx, params, False)
