// A compound's structure the way drugresponse reads it in Python (drugresponse/compound_structure.py), with RDKit's
// WebAssembly build: drop the fragments that are common counter-ions or solvents (compound.json's "counter_ions":
// InChIKey connectivity blocks) unless nothing else is left, keep the largest fragment by heavy atoms (the first of
// equals), no tautomer or charge canonicalisation, Morgan bits. A test checks every GDSC SMILES gives Python's bits exactly. Used by compound.mjs
// here and by the browser page (examples/web copies this file).

function connectivityKey(RDKit, mol) {
  return RDKit.get_inchikey_for_inchi(mol.get_inchi()).slice(0, 14);
}

export function standardise(RDKit, smiles, limits, counterIons = []) {
  if (typeof smiles !== "string" || smiles.trim() === "") throw new Error("give a SMILES string");
  const text = smiles.trim();
  if (text.length > limits.max_smiles_chars) {
    throw new Error(`the SMILES has ${text.length} characters; at most ${limits.max_smiles_chars} are accepted`);
  }
  if (!/^[\x21-\x7e]+$/.test(text)) throw new Error("a SMILES string is printable ASCII without spaces");
  const mol = RDKit.get_mol(text);
  if (mol === null || !mol.is_valid()) {
    if (mol) mol.delete();
    throw new Error(`RDKit cannot read ${JSON.stringify(text.slice(0, 60))} as SMILES`);
  }
  const { molList } = mol.get_frags();
  mol.delete();
  const fragments = molList.size();
  let all = [];
  for (let i = 0; i < fragments; i++) all.push(molList.at(i));
  molList.delete();
  if (fragments > 1) {
    const ions = new Set(counterIons);
    const drug = all.filter((f) => !ions.has(connectivityKey(RDKit, f)));
    if (drug.length > 0) {
      all.filter((f) => !drug.includes(f)).forEach((f) => f.delete());
      all = drug;
    }
  }
  let kept = null;
  let heavy = -1;
  for (const fragment of all) {
    const n = fragment.get_num_atoms(true);
    if (n > heavy) {
      if (kept) kept.delete();
      kept = fragment;
      heavy = n;
    } else {
      fragment.delete();
    }
  }
  if (heavy > limits.max_heavy_atoms || heavy < 2) {
    kept.delete();
    throw new Error(heavy < 2 ? "the largest fragment is a single atom or ion"
      : `the compound has ${heavy} heavy atoms; at most ${limits.max_heavy_atoms} are accepted`);
  }
  return { mol: kept, heavyAtoms: heavy, fragmentsDropped: fragments - 1 };
}

// Float32Array of 0/1, the Morgan fingerprint of the kept fragment (RDKit's bit string, "0101…").
export function morganBits(mol, fingerprint) {
  const bits = mol.get_morgan_fp(JSON.stringify({ radius: fingerprint.radius, nBits: fingerprint.size }));
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits.charCodeAt(i) === 49 ? 1 : 0;
  return out;
}
