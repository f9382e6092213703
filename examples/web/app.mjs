// drugresponse in the browser: onnxruntime-web (WASM) runs the ONNX model on this page; no server computes.
// The site is static files written by `python examples/web/build_site.py` (see README.md there).
import * as ort from "./vendor/ort.wasm.min.mjs";
import { morganBits, standardise } from "./structure.mjs";

ort.env.wasm.wasmPaths = new URL("./vendor/", import.meta.url).href; // absolute: relative paths resolve from vendor/
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation headers that plain static hosts do not send

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const NAN_INT8 = -128; // how the site's line files write an unknown mutation, copy number or driver event

const start = performance.now();
const [meta, catalog] = await Promise.all(["model.json", "catalog.json"].map((f) => fetch(f).then((r) => r.json())));
const session = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
const coldStartMs = performance.now() - start;
// the structure model and RDKit (WebAssembly) load in the background: the genomic model does not wait for them
const compoundReady = Promise.all([
  fetch("compound.json").then((r) => r.json()),
  ort.InferenceSession.create("compound.onnx", { executionProviders: ["wasm"] }),
  window.initRDKitModule({ locateFile: () => new URL("./vendor/RDKit_minimal.wasm", import.meta.url).href }),
]);
// the profile last shown: its predictions, and for a GDSC line its measured responses (the compound model's side)
let current = null;
const widths = { expression: meta.genes.length, mutation: meta.genes.length, copy_number: meta.genes.length,
  drivers: meta.drivers.length };
const index = { gene: new Map(meta.genes.map((g, i) => [g, i])), driver: new Map(meta.drivers.map((d, i) => [d, i])) };

function emptyProfile() {
  return Object.fromEntries(Object.entries(widths).map(([m, n]) => [m, new Float32Array(n).fill(NaN)]));
}

async function predict(profile) {
  const feeds = {};
  for (const m of meta.input_names) feeds[m] = new ort.Tensor("float32", profile[m], [1, widths[m]]);
  const out = await session.run(feeds);
  return Array.from(out[meta.output_names[0]].data);
}

async function lineProfile(i) {
  const buffer = await fetch(`lines/${i}.bin`).then((r) => r.arrayBuffer());
  const g = widths.expression;
  const profile = emptyProfile();
  profile.expression.set(new Float32Array(buffer, 0, g));
  let offset = 4 * g;
  for (const m of ["mutation", "copy_number", "drivers"]) {
    const codes = new Int8Array(buffer, offset, widths[m]);
    codes.forEach((v, j) => { profile[m][j] = v === NAN_INT8 ? NaN : v; });
    offset += widths[m];
  }
  return profile;
}

// The app's two CSV layouts (simple CSV: no quoted commas). Wide: sample,expression:GENE,...,driver:EVENT;
// long: sample,gene,modality,value. Empty, NA and NaN cells are missing.
function parseCsv(text) {
  const rows = text.trim().split(/\r?\n/).map((line) => line.split(",").map((c) => c.trim()));
  const header = rows[0].map((c) => c.toLowerCase());
  const modalities = { expression: "expression", mutation: "mutation", copy_number: "copy_number",
    driver: "drivers", drivers: "drivers" };
  const samples = new Map();
  const value = (cell, where) => {
    if (["", "na", "nan", "n/a", "null", "none"].includes(cell.toLowerCase())) return NaN;
    const v = Number(cell);
    if (!Number.isFinite(v)) throw new Error(`${where}: ${JSON.stringify(cell)} is not a number`);
    return v;
  };
  const place = (sample, modality, name, v, where) => {
    const m = modalities[modality.toLowerCase()];
    if (!m) throw new Error(`${where}: modality ${JSON.stringify(modality)} is not expression, mutation, copy_number or driver`);
    const j = (m === "drivers" ? index.driver : index.gene).get(name);
    if (j === undefined) return;
    if (!samples.has(sample)) samples.set(sample, emptyProfile());
    samples.get(sample)[m][j] = v;
  };
  if (["sample", "gene", "modality", "value"].every((c) => header.includes(c))) {
    const at = Object.fromEntries(["sample", "gene", "modality", "value"].map((c) => [c, header.indexOf(c)]));
    rows.slice(1).forEach((r, i) => place(r[at.sample], r[at.modality], r[at.gene], value(r[at.value], `line ${i + 2}`),
      `line ${i + 2}`));
  } else if (header.includes("sample")) {
    const s = header.indexOf("sample");
    rows.slice(1).forEach((r, i) => rows[0].forEach((column, c) => {
      if (c === s) return;
      const [modality, name] = column.split(":");
      if (name === undefined) throw new Error(`column ${JSON.stringify(column)} is not modality:NAME`);
      place(r[s], modality, name, value(r[c], `line ${i + 2}, ${column}`), `line ${i + 2}`);
    }));
  } else {
    throw new Error("unrecognised layout: expected sample,gene,modality,value or sample,expression:GENE,...");
  }
  if (samples.size === 0) throw new Error("no sample in the file");
  return samples;
}

// The app's coverage rule: a sample needs expression for half of the genes the model reads; under 90% is flagged.
const readGenes = meta.features_read.expression.map((g) => index.gene.get(g));
function coverage(sample, profile) {
  const present = readGenes.filter((j) => !Number.isNaN(profile.expression[j])).length;
  if (present < 0.5 * readGenes.length) {
    throw new Error(`sample ${JSON.stringify(sample)} has expression for ${present} of the ${readGenes.length} genes ` +
      "the model reads; at least 50% are needed for a prediction that is not mostly imputation.");
  }
  return present < 0.9 * readGenes.length ?
    ` Flag: expression for ${present} of the model's ${readGenes.length} genes; the rest are imputed.` : "";
}

async function show(sample, profile, measured = null) {
  const flag = coverage(sample, profile);
  const values = await predict(profile);
  const timings = [];
  for (let k = 0; k < 20; k++) {
    const t = performance.now();
    await predict(profile);
    timings.push(performance.now() - t);
  }
  timings.sort((a, b) => a - b);
  const predictMs = timings[10];
  window.lastPrediction = { sample, drugs: meta.drugs, ln_ic50: values };
  current = { sample, values, measured };
  const order = values.map((v, j) => j).sort((a, b) => values[a] - values[b]);
  $("results").innerHTML = `<caption>${sample}: all ${values.length} outputs (GDSC2 drugs by name, GDSC1's marked [GDSC1]: two assays, not comparable with each other), lowest ln IC50 first</caption>
    <tr><th>drug</th><th>predicted ln IC50</th><th>IC50 (µM)</th></tr>` +
    order.map((j) => `<tr><td>${meta.drugs[j]}</td><td>${values[j].toFixed(3)}</td>
      <td>${Math.exp(values[j]).toPrecision(4)}</td></tr>`).join("");
  $("timing").dataset.coldStartMs = coldStartMs.toFixed(1);
  $("timing").dataset.predictMs = predictMs.toFixed(3);
  $("timing").textContent = `cold start (model download + session) ${coldStartMs.toFixed(0)} ms; one prediction ` +
    `(all ${values.length} outputs) ${predictMs.toFixed(2)} ms, median of 20, on this device.`;
  status("done" + flag);
}

function fillLines() {
  const tissue = $("tissue").value;
  $("line").innerHTML = catalog.cell_lines.map((name, i) => [name, i])
    .filter(([, i]) => tissue === "" || catalog.tissues[i] === tissue)
    .map(([name, i]) => `<option value="${i}">${name}</option>`).join("");
}

$("tissue").innerHTML = `<option value="">all tissues</option>` +
  [...new Set(catalog.tissues)].sort().map((t) => `<option>${t}</option>`).join("");
$("tissue").addEventListener("change", fillLines);
fillLines();
$("model-info").textContent = `${meta.precision}; ${meta.drugs.length} drugs; reads ` +
  Object.entries(meta.reads).filter(([, r]) => r).map(([m]) => m).join(", ") + ".";
$("predict-line").addEventListener("click", async () => {
  status("predicting…");
  const i = Number($("line").value);
  try {
    const measured = catalog.anchors_predicted[i] ? null :
      new Float32Array(await fetch(`lines/${i}.anchors.bin`).then((r) => r.arrayBuffer()));
    await show(catalog.cell_lines[i], await lineProfile(i), measured);
  } catch (error) {
    status(`error: ${error.message}`);
  }
});
async function predictText(text) {
  try {
    const samples = parseCsv(text);
    const [sample, profile] = samples.entries().next().value;
    await show(sample, profile);
  } catch (error) {
    status(`error: ${error.message}`);
  }
}
// A new compound for the profile last shown: its side is the genomic model's predictions for the screened drugs.
async function predictCompound() {
  const [compoundMeta, compoundSession, RDKit] = await compoundReady;
  if (!current) throw new Error("predict a cell line or a pasted sample first: the compound is scored for it");
  const { mol, fragmentsDropped } = standardise(RDKit, $("smiles").value, compoundMeta.limits,
    compoundMeta.counter_ions);
  const bits = morganBits(mol, compoundMeta.fingerprint);
  const svg = mol.get_svg(300, 220);
  const smiles = mol.get_smiles();
  mol.delete();
  // a GDSC line brings its measurements and gets the known-line interval; a pasted sample its predictions
  // the structure model's anchors are GDSC2's drugs: their columns among the genomic model's outputs
  const anchors = current.measured ?? Float32Array.from(compoundMeta.anchors, (d) => current.values[meta.drugs.indexOf(d)]);
  const setting = current.measured ? "single" : "double";
  const out = await compoundSession.run({
    fingerprint: new ort.Tensor("float32", bits, [1, bits.length]),
    anchor_ln_ic50: new ort.Tensor("float32", anchors, [1, anchors.length]),
  });
  const value = out.ln_ic50.data[0];
  const half = compoundMeta.intervals[setting].q * out.scale.data[0];
  const similarity = Array.from(out.similarity.data);
  const best = similarity.indexOf(Math.max(...similarity));
  window.lastCompound = { smiles, sample: current.sample, setting, ln_ic50: value, interval_low: value - half,
    interval_high: value + half, nearest: compoundMeta.known_drugs[best], similarity: similarity[best] };
  $("structure").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  $("compound-result").textContent = `${current.sample}: predicted ln IC50 ${value.toFixed(2)} (80% interval ` +
    `${(value - half).toFixed(2)} to ${(value + half).toFixed(2)}, ${setting === "single" ? "for a new drug on a " +
    "GDSC line, read by its measured responses" : "for a new drug and a new line"}). Read as ${smiles}` +
    (fragmentsDropped ? ` (${fragmentsDropped} smaller fragment(s) removed)` : "") + `; nearest known drug ` +
    `${compoundMeta.known_drugs[best]}, Tanimoto ${similarity[best].toFixed(2)}.`;
}
$("predict-compound").addEventListener("click", async () => {
  try {
    await predictCompound();
  } catch (error) {
    $("compound-result").textContent = `error: ${error.message}`;
  }
});
$("predict-csv").addEventListener("click", () => predictText($("csv").value));
$("file").addEventListener("change", async (event) => predictText(await event.target.files[0].text()));
status("ready");
