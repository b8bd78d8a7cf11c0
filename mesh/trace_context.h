#ifndef STUBMESH_MESH_TRACE_CONTEXT_H_
#define STUBMESH_MESH_TRACE_CONTEXT_H_

// W3C Trace Context (`traceparent: 00-<trace id>-<span id>-<flags>`) and
// request ids, as carried in gRPC metadata from hop to hop: each hop keeps
// the trace id and the request id, and makes a new span id.
//
// Thread-safety: thread-safe (random ids come from a per-thread generator).
//
// Example:
//   std::optional<TraceContext> parent = ParseTraceparent(header);
//   TraceContext span = parent ? ChildSpan(*parent) : NewTrace();
//   metadata["traceparent"] = FormatTraceparent(span);

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace stubmesh::mesh {

inline constexpr char kTraceparentKey[] = "traceparent";
inline constexpr char kTracestateKey[] = "tracestate";
inline constexpr char kRequestIdKey[] = "x-request-id";

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
  bool sampled = false;  // flag 01
};

// nullopt for anything but a well-formed version-00 traceparent (future
// versions are read by their first four fields, as the spec says).
std::optional<TraceContext> ParseTraceparent(absl::string_view value);
std::string FormatTraceparent(const TraceContext& context);

TraceContext NewTrace();                             // sampled
TraceContext ChildSpan(const TraceContext& parent);  // same trace, new span

// 32 hex digits.
std::string NewRequestId();

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_TRACE_CONTEXT_H_
