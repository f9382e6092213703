// Run the drugresponse ONNX model in Node.js: raw profiles in, ln IC50 (natural log of IC50 in µM) out.
//
//   npm install --ignore-scripts      # the CPU build needs none of the install script's downloads
//   node predict.mjs --model ../../assets/model.onnx --input profiles.json [--output predictions.json]
//
// profiles.json: {"samples": [...], "expression": [[...]], "mutation": [[...]], "copy_number": [[...]]},
// one row per sample, genes in the order of model.json's "genes"; null marks a missing value.
// onnxruntime-node cannot read ONNX custom metadata, so drug and gene names come from the sidecar
// model.json that `drugresponse export` writes next to the model.
import { readFileSync, writeFileSync } from "node:fs";
import ort from "onnxruntime-node";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

const modelPath = arg("model", "../../assets/model.onnx");
const inputPath = arg("input");
if (!inputPath) fail("--input profiles.json is required");
const sidecar = JSON.parse(readFileSync(modelPath.replace(/\.onnx$/, ".json"), "utf8"));
const input = JSON.parse(readFileSync(inputPath, "utf8"));
const nGenes = sidecar.genes.length;

const feeds = {};
for (const modality of sidecar.input_names) {
  const rows = input[modality];
  if (!Array.isArray(rows) || rows.length !== input.samples.length) {
    fail(`${modality} must be a list with one row per sample`);
  }
  const data = new Float32Array(rows.length * nGenes);
  rows.forEach((row, i) => {
    if (row.length !== nGenes) fail(`${modality} row ${i} has ${row.length} values, expected ${nGenes}`);
    row.forEach((v, j) => { data[i * nGenes + j] = v === null ? NaN : v; });
  });
  feeds[modality] = new ort.Tensor("float32", data, [rows.length, nGenes]);
}

const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
const result = await session.run(feeds);
const out = result[sidecar.output_name];
const nDrugs = sidecar.drugs.length;
const lnIc50 = input.samples.map((_, i) => Array.from(out.data.slice(i * nDrugs, (i + 1) * nDrugs)));
const payload = { units: sidecar.units, drugs: sidecar.drugs, samples: input.samples, ln_ic50: lnIc50 };
const outputPath = arg("output");
if (outputPath) writeFileSync(outputPath, JSON.stringify(payload));
else console.log(JSON.stringify(payload));
