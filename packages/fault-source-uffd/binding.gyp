{
  "targets": [
    {
      "target_name": "bgsnap_uffd",
      "sources": ["native/addon.cc", "native/common.cc", "native/crc32-fold.cc", "native/in-thread.cc", "native/mapping.cc", "native/session.cc", "native/sigbus.cc", "native/test-sigbus.cc", "native/uffd-open.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-pthread"]
    }
  ]
}
