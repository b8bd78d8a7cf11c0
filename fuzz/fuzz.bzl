"""Fuzz targets that build with libFuzzer (--config=fuzz) and with gcc.

    cc_fuzz_target(
        name = "path_template",
        srcs = ["path_template_fuzzer.cc"],
        deps = ["//gateway:path_template"],
    )

makes
  :path_template_fuzzer    the fuzzer: libFuzzer's main under --config=fuzz,
                           the standalone driver (runs files) otherwise;
  :path_template_seed_test a cc_test that runs the target over its seed
                           corpus corpus/path_template/ with the standalone
                           driver, in every configuration (gcc, asan, fuzz).
The corpus and the optional dictionary (<name>.dict) are data of both.
"""

def cc_fuzz_target(name, srcs, deps = [], dict = None, data = [], **kwargs):
    corpus = native.glob(["corpus/%s/**" % name])
    if not corpus:
        fail("fuzz target %s has no seeds in corpus/%s/" % (name, name))
    files = corpus + ([dict] if dict else []) + data
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        deps = deps + select({
            "//fuzz:libfuzzer": [],
            "//conditions:default": ["//fuzz:standalone_driver"],
        }),
        linkopts = select({
            "//fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = files,
        **kwargs
    )
    native.cc_test(
        name = name + "_seed_test",
        size = "small",
        srcs = srcs,
        deps = deps + ["//fuzz:standalone_driver"],
        args = ["fuzz/corpus/%s" % name],
        data = files,
        **kwargs
    )
