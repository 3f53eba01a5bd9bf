#!/usr/bin/env node
// Builds the prebuilt addon that `npm pack` ships, with prebuildify, into
// prebuilds/PLATFORM-ARCH/forkserve.abiNNN.node. It is tagged with the Node
// ABI (process.versions.modules), not with "napi": native/node/platform_park.cc
// uses Node's C++ embedder API, which binds the binary to one Node major
// (docs/install.md). node-gyp-build loads it on an install whose platform,
// architecture and ABI match, and compiles from source otherwise.
//
// prebuildify moves build/Release/forkserve.node into prebuilds/, so it runs
// in a scratch copy of the sources: the developer's own build/ stays as it is.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const bin = path.join(path.dirname(require.resolve('prebuildify/package.json')), 'bin.js');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-prebuild-'));
try {
  for (const entry of ['package.json', 'binding.gyp', 'native']) fs.cpSync(path.join(root, entry), path.join(scratch, entry), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  execFileSync(process.execPath, [bin, '--napi=false', '--strip', '--target', process.versions.node], { cwd: scratch, stdio: ['ignore', 2, 2] });
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  fs.cpSync(path.join(scratch, 'prebuilds'), path.join(root, 'prebuilds'), { recursive: true });
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
