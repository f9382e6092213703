// The command-line helpers predict.mjs and compound.mjs share.
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}
