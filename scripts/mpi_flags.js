#!/usr/bin/env node
// The MPI compiler wrapper's flags for binding.gyp's inception_mpi target: `has` prints 1 or 0, `compile`
// and `link` print the flags (nothing without MPI). Open MPI's mpicc answers --showme:compile/link, MPICH's
// (and Intel MPI's) -compile_info/-link_info; MPICC names another wrapper (a cluster's).

const { spawnSync } = require('node:child_process');

const MPICC = process.env.MPICC || 'mpicc';

function run(args) {
  const result = spawnSync(MPICC, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Flags from Open MPI's wrapper, else MPICH's (whose answer starts with the compiler's name). */
function wrapperFlags(part) {
  const openMpi = run([`--showme:${part}`]);
  if (openMpi !== null) return openMpi.split(/\s+/).filter(Boolean);
  const mpich = run([`-${part}_info`]);
  if (mpich !== null) return mpich.split(/\s+/).slice(1).filter(Boolean);
  return null;
}

/** Compile flags: include paths and defines only (the wrapper's optimisation flags are not ours). */
function compileFlags() {
  return (wrapperFlags('compile') ?? []).filter((f) => /^-(I|D|pthread)/.test(f));
}

/** Link flags, with an rpath for every library folder so a cluster's MPI outside ld.so's path is found. */
function linkFlags() {
  const flags = (wrapperFlags('link') ?? []).filter((f) => /^-(L|l|Wl,|pthread)/.test(f));
  const rpaths = flags.filter((f) => f.startsWith('-L')).map((f) => `-Wl,-rpath,${f.slice(2)}`);
  return [...flags, ...rpaths];
}

function hasMpi() {
  return wrapperFlags('compile') !== null;
}

module.exports = { hasMpi, MPICC };

if (require.main === module) {
  const what = process.argv[2];
  if (what === 'has') console.log(hasMpi() ? 1 : 0);
  else if (what === 'compile') console.log(compileFlags().join(' '));
  else if (what === 'link') console.log(linkFlags().join(' '));
  else {
    console.error('usage: mpi_flags.js has|compile|link');
    process.exit(2);
  }
}
