#!/usr/bin/env bash
# Benchmark: `lzctl report` on an organization of 350 member accounts in 35
# companies, 30 Config organization rules in 3 regions (31,500 rule x account
# x region evaluations seeded, 5% non-compliant), 600 active Security Hub
# findings, GuardDuty and Security Hub organization-wide, built in the local
# emulator; every AWS call delayed by the emulator (default 40 ms, close to a
# real round trip). Prints the calls by operation and the wall time, and,
# for scale, how many calls reading compliance account by account would
# take. Asserts nothing (machines are shared and noisy).
#   bash benches/report-calls.sh [ACCOUNTS] [RULES] [LATENCY_MS] [RUNS]
#   PROFILE=debug bash benches/report-calls.sh   # the dev build (no release build)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
accounts="${1:-350}"
rules="${2:-30}"
latency="${3:-40}"
runs="${4:-3}"

profile="${PROFILE:-release}"
if [[ "$profile" == release ]]; then
  cargo build --quiet --release --bin lzctl
else
  cargo build --quiet --all-targets   # the same features as the test build: no rebuild
  profile=debug
fi
lzctl="$repo/target/$profile/lzctl"
work="$(mktemp -d)"
# Building the organization is not what is measured: no latency, no throttling.
echo '{"controltower_landing_zone": false, "rate_limits": null, "in_progress_limits": null, "detective": {"central_configuration_seconds": 0, "association_seconds": 0, "config_rule_seconds": 0}}' > "$work/settings.json"
source "$repo/benches/emulator.sh"

echo "building the organization ($accounts accounts, $rules rules, 3 regions) ..."
build_start=$(date +%s.%N)
"$python" - "$work" "$accounts" "$rules" "$repo" <<'PY'
import json, os, random, sys, urllib.request
import boto3
work, n_accounts, n_rules, repo = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
endpoint = os.environ["AWS_ENDPOINT_URL"]
HOME, REGIONS = "ap-northeast-1", ["ap-northeast-1", "ap-northeast-3", "us-east-1"]

def client(service, account=None, region=HOME):
    c = boto3.client(service, endpoint_url=endpoint, region_name=region,
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    if account:
        c.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return c

def control(path, body):
    req = urllib.request.Request(endpoint + "/_lzemu/" + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=600).read()

orgs = client("organizations")
orgs.create_organization(FeatureSet="ALL")
root = orgs.list_roots()["Roots"][0]["Id"]
def ou(parent, name):
    return orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
security = ou(root, "Security")
companies_ou = ou(root, "Companies")
n_companies = max(1, n_accounts // 10)
companies = [f"Company{i:02d}" for i in range(n_companies)]
envs = []
for c in companies:
    cid = ou(companies_ou, c)
    envs += [ou(cid, "prod"), ou(cid, "dev")]
def account(name, parent):
    a = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
    orgs.move_account(AccountId=a, SourceParentId=root, DestinationParentId=parent)
    return a
audit = account("audit", security)
members = [account(f"acct-{i:04d}", envs[i % len(envs)]) for i in range(n_accounts)]

catalog = json.load(open(f"{repo}/src/families/detective/data/catalog.json"))["config_rules"]
names = [k for k, v in catalog.items() if not any(t.endswith("!") for t in v.get("parameters", {}).values())][:n_rules]
# GuardDuty in every region, Security Hub central configuration, Config rules and aggregator.
for p in ("config-multiaccountsetup.amazonaws.com", "config.amazonaws.com"):
    orgs.enable_aws_service_access(ServicePrincipal=p)
    orgs.register_delegated_administrator(AccountId=audit, ServicePrincipal=p)
for region in REGIONS:
    client("guardduty", region=region).enable_organization_admin_account(AdminAccountId=audit)
    gd = client("guardduty", audit, region)
    det = gd.create_detector(Enable=True)["DetectorId"]
    gd.update_organization_configuration(DetectorId=det, AutoEnableOrganizationMembers="ALL")
    cfg = client("config", audit, region)
    for n in names:
        cfg.put_organization_config_rule(OrganizationConfigRuleName=n, OrganizationManagedRuleMetadata={
            "RuleIdentifier": catalog[n]["identifier"]})
client("securityhub").enable_organization_admin_account(AdminAccountId=audit)
hub = client("securityhub", audit)
hub.enable_security_hub(EnableDefaultStandards=False)
hub.create_finding_aggregator(RegionLinkingMode="SPECIFIED_REGIONS", Regions=REGIONS[1:])
hub.update_organization_configuration(AutoEnable=False, AutoEnableStandards="NONE",
                                      OrganizationConfiguration={"ConfigurationType": "CENTRAL"})
fsbp = f"arn:aws:securityhub:{HOME}::standards/aws-foundational-security-best-practices/v/1.0.0"
pid = hub.create_configuration_policy(Name="baseline", ConfigurationPolicy={"SecurityHub": {
    "ServiceEnabled": True, "EnabledStandardIdentifiers": [fsbp],
    "SecurityControlsConfiguration": {"DisabledSecurityControlIdentifiers": []}}})["Id"]
hub.start_configuration_policy_association(ConfigurationPolicyIdentifier=pid, Target={"RootId": root})
client("config", audit).put_configuration_aggregator(ConfigurationAggregatorName="organization",
    OrganizationAggregationSource={"RoleArn": f"arn:aws:iam::{audit}:role/aggregator", "AllAwsRegions": True})

rng = random.Random(7)
results = []
for a in members:
    for region in REGIONS:
        for n in names:
            bad = rng.random() < 0.05
            results.append({"rule": n, "account": a, "region": region, "resource_type": "AWS::S3::Bucket",
                            "resource_id": f"{a}-{n[:12]}", "compliance": "NON_COMPLIANT" if bad else "COMPLIANT"})
for i in range(0, len(results), 5000):
    control("detective/compliance", {"results": results[i:i + 5000]})
findings = [{"account": rng.choice(members), "region": rng.choice(REGIONS),
             "severity": rng.choice(["CRITICAL", "HIGH", "MEDIUM", "LOW"]), "control_id": f"S3.{rng.randint(1, 20)}",
             "resource_id": f"res-{i}", "id": f"finding-{i}"} for i in range(600)]
control("detective/findings", {"findings": findings})
print(f"seeded {len(results)} evaluations ({sum(r['compliance'] == 'NON_COMPLIANT' for r in results)} non-compliant), {len(findings)} findings")

lines = ["version: 1", "organization:", f"  home_region: {HOME}", f"  governed_regions: [{', '.join(REGIONS)}]",
         '  management_account: "123456789012"', "  control_tower: auto", "company_parent: Companies",
         "environments: [prod, dev]", "organizational_units:", "  Security: {}", "  Companies:", "    children:"]
lines += [f"      {c}: {{}}" for c in companies]
lines += ["detective:", f'  delegated_admin: "{audit}"', "  guardduty: { auto_enable: all }",
          "  security_hub:", "    policies:", "      baseline: { standards: [aws-foundational-security-best-practices], targets: [Root] }",
          "  config:", "    rules:"]
lines += [f"      {n}: {{ scope: all, severity: {['critical', 'high', 'medium', 'low'][i % 4]} }}" for i, n in enumerate(names)]
open(f"{work}/landing-zone.yaml", "w").write("\n".join(lines) + "\n")
PY
printf 'built in %.1fs\n' "$(echo "$(date +%s.%N) - $build_start" | bc)"

curl -s -X POST "$base/_lzemu/settings" -H 'content-type: application/json' \
  -d "{\"latency_ms\": {\"default\": $latency}}" >/dev/null
for run in $(seq 1 "$runs"); do
  curl -s -X POST "$base/_lzemu/log/clear" >/dev/null
  start=$(date +%s.%N)
  "$lzctl" report -c "$work/landing-zone.yaml" --format json --out "$work/report.json" --stats 2> "$work/stats.txt"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  printf '\nrun %d: %.2fs wall, %s ms per call\n' "$run" "$wall" "$latency"
  grep -v '^wrote ' "$work/stats.txt"
done
"$python" - "$work/report.json" "$accounts" "$rules" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
accounts, rules = int(sys.argv[2]), int(sys.argv[3])
regions = len(r["sources"]["regions"])
print(f"\nreport: {sum(len(c['accounts']) for c in r['companies'])} accounts in {len(r['companies'])} groups, "
      f"{len(r['rules'])} rules, {len(r['problems'])} problems, total rate {r['total']['rate']:.4f}")
# Account by account (no aggregator): per account and region, AssumeRole once per account,
# DescribeComplianceByConfigRule (all rules, paged by 25) and GetComplianceDetailsByConfigRule
# per non-compliant rule; GetFindings per account and region.
per_account = accounts + accounts * regions * (math.ceil(rules / 25) + 1) + len(r["problems"])
print(f"for scale: reading account by account would take about {per_account} calls")
PY
