#ifndef STUBMESH_SERVER_PROCESS_START_TIME_H_
#define STUBMESH_SERVER_PROCESS_START_TIME_H_

// process_start_time_seconds, Prometheus' conventional process metric, which
// prometheus-cpp (having no process collector) does not export: the time the
// process started, in seconds since the Unix epoch. A restart shows as a new
// value on the same target, which deploy/prometheus/alerts.yml
// (ReplicaRestarting) counts with changes().
//
// Read the way the Go and Python clients' process collectors read it: the
// process's start in clock ticks after boot (/proc/self/stat, field 22) plus
// the boot time (/proc/stat, btime).
//
// Thread-safety: thread-safe (no shared state); the registry's own rules
// apply to ExportProcessStartTime.
//
// Example:
//   auto registry = std::make_shared<prometheus::Registry>();
//   ExportProcessStartTime(*registry);  // once per process

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"

namespace stubmesh::server {

// When the calling process started. UNAVAILABLE if /proc cannot be read or
// parsed (naming the file).
absl::StatusOr<absl::Time> ProcessStartTime();

// Adds the gauge process_start_time_seconds (no labels) to `registry`, set
// to ProcessStartTime(), or to now if /proc cannot be read (then close to
// the start when called early in main). Call once per registry.
void ExportProcessStartTime(prometheus::Registry& registry);

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_PROCESS_START_TIME_H_
