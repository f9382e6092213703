// Run the drugresponse ONNX model in Node.js: raw profiles in, ln IC50 (natural log of IC50 in µM) out.
//
//   npm install --ignore-scripts      # the CPU build needs none of the install script's downloads
//   node predict.mjs --model ../../assets/model.onnx --input profiles.json [--output predictions.json] [--repeat N]
//
// --repeat N times N more runs of the same input and prints {"session_ms", "predict_ms_median"} on stderr.
//
// profiles.json: {"samples": [...], "expression": [[...]], "mutation": [[...]], "copy_number": [[...]],
// "drivers": [[...]]}, one row per sample, genes in the order of model.json's "genes", driver events in the order
// of its "drivers"; null marks a missing value. A modality left out is sent as all-missing (the model imputes it;
// an unknown driver event is never read as absent).
// onnxruntime-node cannot read ONNX custom metadata, so drug and gene names come from the sidecar
// model.json that `drugresponse export` writes next to the model.
import { readFileSync, writeFileSync } from "node:fs";
import ort from "onnxruntime-node";

import { arg, fail } from "./args.mjs";
import { profileFeeds } from "./profiles.mjs";

const modelPath = arg("model", "../../assets/model.onnx");
const inputPath = arg("input");
if (!inputPath) fail("--input profiles.json is required");
const sidecar = JSON.parse(readFileSync(modelPath.replace(/\.onnx$/, ".json"), "utf8"));
const input = JSON.parse(readFileSync(inputPath, "utf8"));
let feeds;
try {
  feeds = profileFeeds(ort, sidecar, input);
} catch (error) {
  fail(error.message);
}

const started = performance.now();
const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
const sessionMs = performance.now() - started;
const result = await session.run(feeds);
const repeat = Number(arg("repeat", 0));
if (repeat > 0) {
  const times = [];
  for (let k = 0; k < repeat; k++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.error(JSON.stringify({ session_ms: sessionMs, predict_ms_median: times[Math.floor(repeat / 2)] }));
}
const out = result[sidecar.output_names[0]];
const nDrugs = sidecar.drugs.length;
const lnIc50 = input.samples.map((_, i) => Array.from(out.data.slice(i * nDrugs, (i + 1) * nDrugs)));
const payload = { units: sidecar.units, drugs: sidecar.drugs, samples: input.samples, ln_ic50: lnIc50 };
const outputPath = arg("output");
if (outputPath) writeFileSync(outputPath, JSON.stringify(payload));
else console.log(JSON.stringify(payload));
