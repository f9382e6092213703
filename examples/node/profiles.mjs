// profiles.json -> onnxruntime feeds for model.onnx (shared by predict.mjs and compound.mjs): one row per sample,
// genes in the order of model.json's "genes", driver events in the order of its "drivers"; null marks a missing
// value, and a modality left out is sent as all-missing (the model imputes it).
export function profileFeeds(ort, sidecar, input) {
  if (!Array.isArray(input.samples) || input.samples.length === 0) throw new Error("samples must be a non-empty list");
  const nSamples = input.samples.length;
  const feeds = {};
  for (const modality of sidecar.input_names) {
    const width = (modality === "drivers" ? sidecar.drivers : sidecar.genes).length;
    const rows = input[modality] ?? input.samples.map(() => new Array(width).fill(null));
    if (!Array.isArray(rows) || rows.length !== nSamples) {
      throw new Error(`${modality} must be a list with one row per sample`);
    }
    const data = new Float32Array(nSamples * width);
    rows.forEach((row, i) => {
      if (row.length !== width) throw new Error(`${modality} row ${i} has ${row.length} values, expected ${width}`);
      row.forEach((v, j) => { data[i * width + j] = v === null ? NaN : v; });
    });
    feeds[modality] = new ort.Tensor("float32", data, [nSamples, width]);
  }
  return feeds;
}
