// Runs the limiter conformance suite on a policy module with plain node (no vitest):
//   node check.mjs [./writer-yield.mjs] [key=value ...]
// Exit 0 when every rule passes; 1 with the failed rules on stderr otherwise.
import { pathToFileURL } from 'node:url';
import { checkPolicyConformance } from '@bgsnap/rate-limiter/conformance';

const [modulePath = './writer-yield.mjs', ...pairs] = process.argv.slice(2);
const options = Object.fromEntries(pairs.map((pair) => pair.split(/=(.*)/s, 2)));
const { default: createPolicy } = await import(pathToFileURL(modulePath).href);

const report = checkPolicyConformance(() => createPolicy(options));
if (report.ok) {
  console.log(`${report.policy}: conforms`);
} else {
  console.error(`${report.policy}: fails conformance`);
  for (const failure of report.failures) console.error(`  [${failure.rule}] ${failure.message}`);
  process.exitCode = 1;
}
