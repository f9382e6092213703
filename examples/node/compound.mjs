// A new compound in Node.js: its Morgan bits from @rdkit/rdkit, then the structure model (compound.onnx) for each
// sample of a profiles file, whose side is the genomic model's (model.onnx) predictions for the screened drugs.
//
//   npm install --ignore-scripts
//   node compound.mjs --smiles "CC(=O)Oc1ccccc1C(=O)O" --input profiles.json [--model ../../assets/model.onnx]
//                     [--output predictions.json]
//   node compound.mjs --fingerprints smiles.json --output bits.json    (each SMILES's bits as "0101…", or an error)
//
// profiles.json is predict.mjs's input. Output: {"smiles", "samples", "ln_ic50": [...], "interval_low",
// "interval_high", "nearest_known": {"drug", "similarity"}}; the 80% interval is the one for a new drug and a new
// line (compound.json's "double" setting), calibrated on leave-drug-out residuals.
import { readFileSync, writeFileSync } from "node:fs";
import initRDKitModule from "@rdkit/rdkit";
import ort from "onnxruntime-node";

import { arg, fail } from "./args.mjs";
import { profileFeeds } from "./profiles.mjs";
import { morganBits, standardise } from "./structure.mjs";

const modelPath = arg("model", "../../assets/model.onnx");
const compoundPath = modelPath.replace(/[^/]*\.onnx$/, "compound.onnx");
const meta = JSON.parse(readFileSync(compoundPath.replace(/\.onnx$/, ".json"), "utf8"));
const RDKit = await initRDKitModule();
const outputPath = arg("output");

const smilesList = arg("fingerprints");
if (smilesList) {
  const bits = JSON.parse(readFileSync(smilesList, "utf8")).map((smiles) => {
    try {
      const { mol } = standardise(RDKit, smiles, meta.limits, meta.counter_ions);
      const fp = morganBits(mol, meta.fingerprint);
      mol.delete();
      return Array.from(fp, (b) => (b ? "1" : "0")).join("");
    } catch (error) {
      return { error: error.message };
    }
  });
  writeFileSync(outputPath, JSON.stringify(bits));
  process.exit(0);
}

const smiles = arg("smiles");
const inputPath = arg("input");
if (!smiles || !inputPath) fail("--smiles and --input profiles.json are required (or --fingerprints smiles.json)");
let compound;
let feeds;
const sidecar = JSON.parse(readFileSync(modelPath.replace(/\.onnx$/, ".json"), "utf8"));
try {
  compound = standardise(RDKit, smiles, meta.limits, meta.counter_ions);
  feeds = profileFeeds(ort, sidecar, JSON.parse(readFileSync(inputPath, "utf8")));
} catch (error) {
  fail(error.message);
}
// the structure model's anchors are GDSC2's drugs: pick their columns among the genomic model's outputs
const columns = meta.anchors.map((drug) => sidecar.drugs.indexOf(drug));
if (columns.includes(-1)) fail("the genomic model does not predict every anchor drug of compound.json");
const bits = morganBits(compound.mol, meta.fingerprint);
const standardised = compound.mol.get_smiles();
compound.mol.delete();

const genomic = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
const predicted = (await genomic.run(feeds)).ln_ic50; // [samples, model outputs]
const samples = predicted.dims[0];
const picked = new Float32Array(samples * columns.length);
for (let i = 0; i < samples; i += 1) {
  columns.forEach((c, k) => { picked[i * columns.length + k] = predicted.data[i * predicted.dims[1] + c]; });
}
const anchors = new ort.Tensor("float32", picked, [samples, columns.length]); // the samples' side
const session = await ort.InferenceSession.create(compoundPath, { executionProviders: ["cpu"] });
const out = await session.run({
  fingerprint: new ort.Tensor("float32", bits, [1, bits.length]),
  anchor_ln_ic50: anchors,
});
const input = JSON.parse(readFileSync(inputPath, "utf8"));
const lnIc50 = Array.from(out.ln_ic50.data);
const half = meta.intervals.double.q * out.scale.data[0];
const similarity = Array.from(out.similarity.data);
const best = similarity.indexOf(Math.max(...similarity));
const payload = {
  smiles: standardised, units: "natural log of IC50 in micromolar", samples: input.samples, ln_ic50: lnIc50,
  interval_low: lnIc50.map((v) => v - half), interval_high: lnIc50.map((v) => v + half),
  nearest_known: { drug: meta.known_drugs[best], similarity: similarity[best] },
};
if (outputPath) writeFileSync(outputPath, JSON.stringify(payload));
else console.log(JSON.stringify(payload, null, 1));
