// Encrypt a file the way the iExec SDK does for a dataset (npm `iexec`, IExecDatasetModule:
// AES-256-CBC over the whole file in memory), then its checksum (sha256 of the ciphertext),
// and write the result. Prints one JSON line: seconds (encrypt + checksum), sizes, peak RSS.
// Usage: node iexec-encrypt.mjs INPUT OUTPUT
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { IExecDatasetModule } from 'iexec';

const [input, output] = process.argv.slice(2);
const datasets = new IExecDatasetModule({ ethProvider: 'bellecour' });
const key = datasets.generateEncryptionKey();
const started = performance.now();
const plaintext = readFileSync(input);
const encrypted = await datasets.encrypt(plaintext, key);
const checksum = await datasets.computeEncryptedFileChecksum(encrypted);
writeFileSync(output, encrypted);
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({
  seconds,
  plaintext_size: plaintext.length,
  ciphertext_size: encrypted.length,
  checksum,
  peak_rss_kb: process.resourceUsage().maxRSS,
  iexec_version: JSON.parse(readFileSync(new URL('./node_modules/iexec/package.json', import.meta.url))).version,
}));
