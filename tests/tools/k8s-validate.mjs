// Validates Kubernetes objects against the API's schema with the npm package kubernetes-models.
// Input: a JSON array of objects on stdin. Prints one line per object; exits 1 on the first
// invalid one (with the schema's message). Run from a directory where kubernetes-models is
// installed (NODE_PATH is not used by ES modules: the test passes the package's directory).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const pkg = process.argv[2];
const docs = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const doc of docs) {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : [null, doc.apiVersion];
  const dir = group ? `${group}/${version}` : version;
  const what = `${doc.kind} ${doc.metadata?.name}`;
  let Model;
  try {
    Model = (await import(pathToFileURL(`${pkg}/${dir}/${doc.kind}.js`).href))[doc.kind];
  } catch (e) {
    console.log(`${what}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
    bad++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`${what}: valid ${doc.apiVersion}`);
  } catch (e) {
    console.log(`${what}: INVALID: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
