// Decides the cases written by tests/crosscheck.rs with @cloud-copilot/iam-simulate and
// compares each verdict with lzctl's.
//
// Usage: node scripts/crosscheck/compare.mjs CASES.jsonl
//   LZCTL_CROSSCHECK_SHOW  how many disagreements/errors to print in full (default 20)
//
// Each line of CASES.jsonl is one case:
//   {"case": 0, "account": "111122223333",
//    "levels": [[{"name": "FullAWSAccess", "policy": {...}}, ...], ...],   // root first
//    "principal": "arn:...", "action": "s3:GetObject", "resource": "arn:...",
//    "context": {"aws:RequestedRegion": "us-east-1", ...},
//    "lzctl": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", "explain": "..."}
//
// The simulator gets the SCP levels (root first, the account last), an identity policy that
// allows everything (so only the SCPs decide) and the same context. A case is an error when
// the simulator rejects it or drops a context key lzctl used: then the two did not decide
// the same request.
//
// Prints one DIFF/ERR block per problem, then `agree N of M` and a machine-readable line
// `crosscheck-summary {...}` that the Rust test parses. Exits 1 unless every case agrees.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const file = process.argv[2];
if (!file) {
  console.error('usage: node compare.mjs CASES.jsonl');
  process.exit(2);
}
const show = Number(process.env.LZCTL_CROSSCHECK_SHOW ?? 20);
const here = dirname(fileURLToPath(import.meta.url));
const simulatorVersion = JSON.parse(
  readFileSync(join(here, 'node_modules/@cloud-copilot/iam-simulate/package.json'), 'utf8'),
).version;

const allowAll = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

function simulation(c) {
  const last = c.levels.length - 1;
  return {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.account },
      contextVariables: {
        'aws:PrincipalAccount': c.account,
        'aws:PrincipalArn': c.principal,
        ...c.context,
      },
    },
    identityPolicies: [{ name: 'allow-all', policy: allowAll }],
    serviceControlPolicies: c.levels.map((policies, i) => ({
      orgIdentifier: i === last ? c.account : i === 0 ? 'r-root' : `ou-root-level${i}`,
      policies,
    })),
    resourceControlPolicies: [],
  };
}

const started = Date.now();
const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
let agree = 0;
let disagree = 0;
let errors = 0;
const simulatorVerdicts = {};
const pairs = {};
let shown = 0;

function report(kind, c, detail) {
  if (shown++ >= show) return;
  console.log(`${kind} case ${c.case}: ${detail}`);
  console.log(`  lzctl: ${c.lzctl} (${c.explain})`);
  console.log(`  request: ${c.action} ${c.resource} by ${c.principal} context ${JSON.stringify(c.context)}`);
  console.log(`  levels: ${JSON.stringify(c.levels)}`);
}

for (const line of lines) {
  const c = JSON.parse(line);
  let r;
  try {
    r = await runSimulation(simulation(c), { simulationMode: 'Strict' });
  } catch (e) {
    errors++;
    report('ERR', c, `simulator threw: ${e.message}`);
    continue;
  }
  if (r.resultType !== 'single') {
    errors++;
    report('ERR', c, `simulator result ${r.resultType}: ${JSON.stringify(r.errors ?? r).slice(0, 400)}`);
    continue;
  }
  const ignored = (r.result.ignoredContextKeys ?? []).filter((k) => k in c.context);
  if (ignored.length > 0) {
    errors++;
    report('ERR', c, `simulator ignored context keys ${ignored.join(', ')} for ${c.action}`);
    continue;
  }
  const theirs = r.overallResult;
  simulatorVerdicts[theirs] = (simulatorVerdicts[theirs] ?? 0) + 1;
  if (theirs === c.lzctl) {
    agree++;
  } else {
    disagree++;
    const pair = `${c.lzctl}/${theirs}`;
    pairs[pair] = (pairs[pair] ?? 0) + 1;
    report('DIFF', c, `lzctl ${c.lzctl}, simulator ${theirs}`);
  }
}

const seconds = (Date.now() - started) / 1000;
console.log(`simulator @cloud-copilot/iam-simulate@${simulatorVersion} verdicts ${JSON.stringify(simulatorVerdicts)}`);
if (disagree > 0) console.log(`disagreements (lzctl/simulator): ${JSON.stringify(pairs)}`);
console.log(`agree ${agree} of ${lines.length} (disagree ${disagree}, errors ${errors}) in ${seconds.toFixed(2)}s`);
console.log(
  `crosscheck-summary ${JSON.stringify({
    cases: lines.length,
    agree,
    disagree,
    errors,
    simulator: `@cloud-copilot/iam-simulate@${simulatorVersion}`,
    seconds,
  })}`,
);
process.exit(agree === lines.length ? 0 : 1);
