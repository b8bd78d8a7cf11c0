"""A repository of header-less cc_library targets for Debian's system libraries.

Each target carries the link flags that `pkg-config --libs` reports on the
machine that builds, so Abseil's many small libraries link in the right order
without a hand-kept list. Headers come from /usr/include, which the compiler
already searches.

    system_library(
        name = "system",
        libraries = {"grpcpp": ["grpc++", "protobuf"]},
    )
    # then: deps = ["@system//:grpcpp"]
"""

def _pkg_config_libs(repository_ctx, modules):
    if not modules:
        return []
    result = repository_ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed (run tools/install-deps.sh): %s" %
             (" ".join(modules), result.stderr))
    return result.stdout.strip().split(" ")

def _system_library_impl(repository_ctx):
    lines = ["package(default_visibility = [\"//visibility:public\"])", ""]
    for name, modules in repository_ctx.attr.libraries.items():
        linkopts = _pkg_config_libs(repository_ctx, modules)
        linkopts += repository_ctx.attr.extra_linkopts.get(name, [])
        lines.append("cc_library(")
        lines.append("    name = %r," % name)
        lines.append("    linkopts = %r," % linkopts)
        lines.append(")")
        lines.append("")
    repository_ctx.file("WORKSPACE", "workspace(name = %r)\n" % repository_ctx.name)
    repository_ctx.file("BUILD", "\n".join(lines))

system_library = repository_rule(
    implementation = _system_library_impl,
    attrs = {
        "libraries": attr.string_list_dict(mandatory = True),
        "extra_linkopts": attr.string_list_dict(),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
