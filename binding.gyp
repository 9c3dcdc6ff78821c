{
  # The native oneDNN engine: every native/*.cc but mpi.cc is compiled in (each kernel family registers
  # itself), so adding a kernel file needs no edit here. native/mpi.cc is the collectives addon, built
  # only where an MPI compiler wrapper (mpicc) exists.
  "variables": {
    "with_mpi%": "<!(node scripts/mpi_flags.js has)"
  },
  "targets": [
    {
      "target_name": "inception_onednn",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc') && f !== 'mpi.cc').map(f => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-march=x86-64-v3", "-mtune=generic", "-fopenmp"],
      "libraries": ["-ldnnl", "-fopenmp"]
    },
    {
      "target_name": "inception_mpi",
      "conditions": [
        ["with_mpi==1", {
          "sources": ["native/mpi.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
          "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "<!@(node scripts/mpi_flags.js compile)"],
          "libraries": ["<!@(node scripts/mpi_flags.js link)"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
