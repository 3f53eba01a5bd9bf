{
  "targets": [
    {
      "target_name": "forkserve",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['native/posix','native/node','native/http','native/engine','native/binding'])for(const f of fs.readdirSync(d).sort())if(/\\.(c|cc)$/.test(f))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=c11", "-D_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-D_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
