"""C++ code and descriptor sets from .proto files with Debian's protoc.

The package that holds a proto target is its import root: a file at
`protos/stubmesh/user/v1/user.proto` in package `//protos` is imported as
`stubmesh/user/v1/user.proto`, and its generated header is included as
`"stubmesh/user/v1/user.pb.h"`. Well-known types come from /usr/include.

    cc_grpc_proto_library(
        name = "user_service",
        srcs = ["stubmesh/user/v1/user_service.proto"],
        deps = [":google_api"],
        grpc = True,
    )
    proto_descriptor_set(name = "descriptors", deps = [":user_service"])
"""

_PROTOC = "/usr/bin/protoc"
_GRPC_CPP_PLUGIN = "/usr/bin/grpc_cpp_plugin"

ProtoSourcesInfo = provider(
    doc = "Proto files and the import roots needed to compile them.",
    fields = {
        "direct_sources": "the target's own .proto files",
        "transitive_sources": "depset of every .proto file reachable",
        "import_roots": "depset of -I directories",
    },
)

def _import_root(label):
    parts = [p for p in [label.workspace_root, label.package] if p]
    return "/".join(parts) if parts else "."

def _relative(path, root):
    if root == ".":
        return path
    if not path.startswith(root + "/"):
        fail("%s is not under the import root %s" % (path, root))
    return path[len(root) + 1:]

def _cc_proto_gen_impl(ctx):
    root = _import_root(ctx.label)
    deps = [d[ProtoSourcesInfo] for d in ctx.attr.deps]
    transitive_sources = depset(
        ctx.files.srcs,
        transitive = [d.transitive_sources for d in deps],
    )
    import_roots = depset([root], transitive = [d.import_roots for d in deps])

    hdrs = []
    srcs = []
    suffixes = [(".pb.h", hdrs), (".pb.cc", srcs)]
    if ctx.attr.grpc:
        suffixes += [(".grpc.pb.h", hdrs), (".grpc.pb.cc", srcs)]
    for src in ctx.files.srcs:
        stem = _relative(src.path, root)[:-len(".proto")]
        for suffix, bucket in suffixes:
            bucket.append(ctx.actions.declare_file(stem + suffix))

    out_dir = ctx.bin_dir.path + ("/" + root if root != "." else "")
    args = ctx.actions.args()
    args.add_all(import_roots, format_each = "-I%s")
    args.add("-I/usr/include")
    args.add("--cpp_out=" + out_dir)
    if ctx.attr.grpc:
        args.add("--plugin=protoc-gen-grpc=" + _GRPC_CPP_PLUGIN)
        args.add("--grpc_out=" + out_dir)
    args.add_all(ctx.files.srcs)
    ctx.actions.run(
        executable = _PROTOC,
        arguments = [args],
        inputs = transitive_sources,
        outputs = hdrs + srcs,
        mnemonic = "ProtocCpp",
        progress_message = "protoc (C++) %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset(hdrs + srcs)),
        OutputGroupInfo(hdrs = depset(hdrs), srcs = depset(srcs)),
        ProtoSourcesInfo(
            direct_sources = ctx.files.srcs,
            transitive_sources = transitive_sources,
            import_roots = import_roots,
        ),
    ]

_cc_proto_gen = rule(
    implementation = _cc_proto_gen_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "deps": attr.label_list(providers = [ProtoSourcesInfo]),
        "grpc": attr.bool(default = False),
    },
)

def cc_grpc_proto_library(name, srcs, deps = [], grpc = False, alwayslink = False, visibility = None):
    """A cc_library of the protobuf (and, with grpc, gRPC) code of `srcs`.

    `deps` are other cc_grpc_proto_library targets whose files `srcs` import.
    `alwayslink` keeps the descriptors linked in when no code names them.
    """
    gen = name + "_gen"
    _cc_proto_gen(
        name = gen,
        srcs = srcs,
        deps = [d + "_gen" for d in deps],
        grpc = grpc,
    )
    native.filegroup(name = name + "_hdrs", srcs = [":" + gen], output_group = "hdrs")
    native.filegroup(name = name + "_srcs", srcs = [":" + gen], output_group = "srcs")
    system_deps = ["@system//:grpcpp"] if grpc else ["@system//:protobuf"]
    native.cc_library(
        name = name,
        srcs = [":" + name + "_srcs"],
        hdrs = [":" + name + "_hdrs"],
        includes = ["."],
        deps = deps + system_deps,
        alwayslink = alwayslink,
        visibility = visibility,
    )

def _proto_descriptor_set_impl(ctx):
    infos = [d[ProtoSourcesInfo] for d in ctx.attr.deps]
    sources = depset(transitive = [i.transitive_sources for i in infos])
    roots = depset(transitive = [i.import_roots for i in infos])
    out = ctx.actions.declare_file(ctx.label.name + ".pb")
    args = ctx.actions.args()
    args.add_all(roots, format_each = "-I%s")
    args.add("-I/usr/include")
    args.add("--include_imports")
    args.add("--include_source_info")
    args.add("--descriptor_set_out=" + out.path)
    for info in infos:
        args.add_all(info.direct_sources)
    ctx.actions.run(
        executable = _PROTOC,
        arguments = [args],
        inputs = sources,
        outputs = [out],
        mnemonic = "ProtocDescriptorSet",
        progress_message = "protoc (descriptor set) %s" % ctx.label,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles([out]))]

proto_descriptor_set = rule(
    implementation = _proto_descriptor_set_impl,
    doc = "A FileDescriptorSet (with imports and source info) of the deps' protos.",
    attrs = {
        "deps": attr.label_list(
            providers = [ProtoSourcesInfo],
            doc = "the *_gen targets of cc_grpc_proto_library",
        ),
    },
)
