#include "mesh/mesh_config_loader.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "mesh/grpc_service_config.h"
#include "mesh/json_config.h"
#include "status/status_mapping.h"

namespace stubmesh::mesh {
namespace {

using ::google::protobuf::Duration;
using ::google::protobuf::util::TimeUtil;

absl::Status Bad(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

bool IsSet(const Duration& d) { return d.seconds() != 0 || d.nanos() != 0; }

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || absl::ascii_isdigit(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

bool IsFullServiceName(absl::string_view s) {
  if (!absl::StrContains(s, '.')) return false;
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    if (!IsIdentifier(part)) return false;
  }
  return true;
}

absl::Status CheckDuration(const std::string& path, const Duration& d,
                           bool allow_zero) {
  if (d.seconds() < 0 || d.nanos() < 0) return Bad(path, "must not be negative");
  if (!allow_zero && d.seconds() == 0 && d.nanos() == 0) {
    return Bad(path, "must be more than 0s");
  }
  return absl::OkStatus();
}

// gRPC reads these in whole milliseconds: retry backoffs in its service
// config (under 1ms reads as 0, which it refuses, and then every call on the
// channel fails), keepalive as int channel arguments. 0 means the default.
constexpr int64_t kNoMaxMs = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxChannelArgMs = std::numeric_limits<int32_t>::max();

absl::Status CheckMilliseconds(const std::string& path, const Duration& d,
                               int64_t max_ms) {
  absl::Status st = CheckDuration(path, d, true);
  if (!st.ok() || (d.seconds() == 0 && d.nanos() == 0)) return st;
  int64_t ms = TimeUtil::DurationToMilliseconds(d);
  if (ms < 1 || ms > max_ms) {
    std::string range = max_ms == kNoMaxMs
                            ? "at least 0.001s"
                            : absl::StrCat("0.001s to ", max_ms / 1000, "s");
    return Bad(path, absl::StrCat("must be 0s (the default) or ", range,
                                  ", got ", TimeUtil::ToString(d)));
  }
  return absl::OkStatus();
}

// Pings faster than kMinKeepaliveTime get calls failed by the mesh's servers
// (grpc_service_config.h); gRPC reads the time as int milliseconds.
absl::Status CheckKeepaliveTime(const std::string& path, const Duration& d) {
  absl::Status st = CheckDuration(path, d, true);
  if (!st.ok() || !IsSet(d)) return st;
  if (absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()) <
          kMinKeepaliveTime ||
      TimeUtil::DurationToMilliseconds(d) > kMaxChannelArgMs) {
    return Bad(path,
               absl::StrCat("must be 0s (no keepalive pings) or ",
                            absl::FormatDuration(kMinKeepaliveTime), " to ",
                            kMaxChannelArgMs / 1000, "s, got ",
                            TimeUtil::ToString(d),
                            " (the mesh's servers answer faster pings with "
                            "GOAWAY too_many_pings, failing the calls)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPercent(const std::string& path, double value) {
  if (!(value >= 0 && value <= 100)) {
    return Bad(path, absl::StrCat("must be 0 to 100, got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckCodeName(const std::string& path, const std::string& name) {
  absl::StatusOr<absl::StatusCode> code = StatusCodeFromName(name);
  if (!code.ok()) {
    return Bad(path, absl::StrCat("'", name,
                                  "' is not a gRPC code name (UNAVAILABLE, "
                                  "DEADLINE_EXCEEDED, ...)"));
  }
  if (*code == absl::StatusCode::kOk) return Bad(path, "OK is not an error");
  return absl::OkStatus();
}

absl::Status ValidateAuthorization(const std::string& p, const ServiceMesh& s,
                                   bool has_tls) {
  if (s.has_authorization() && !has_tls) {
    return Bad(p + ".authorization",
               "needs mTLS (the mesh config's tls): callers are known by "
               "their client certificates");
  }
  for (int i = 0; i < s.authorization().allow_size(); ++i) {
    const v1::AuthorizationRule& rule = s.authorization().allow(i);
    std::string rp = absl::StrCat(p, ".authorization.allow[", i, "]");
    if (rule.principals().empty()) return Bad(rp + ".principals", "is required");
    if (rule.methods().empty()) return Bad(rp + ".methods", "is required");
    for (int j = 0; j < rule.principals_size(); ++j) {
      if (rule.principals(j).empty()) {
        return Bad(absl::StrCat(rp, ".principals[", j, "]"), "is empty");
      }
    }
    for (int j = 0; j < rule.methods_size(); ++j) {
      if (rule.methods(j) != "*" && !IsIdentifier(rule.methods(j))) {
        return Bad(absl::StrCat(rp, ".methods[", j, "]"),
                   "must be a method name (\"GetUser\") or \"*\"");
      }
    }
  }
  for (int i = 0; i < s.server_identities_size(); ++i) {
    if (s.server_identities(i).empty()) {
      return Bad(absl::StrCat(p, ".server_identities[", i, "]"), "is empty");
    }
  }
  return absl::OkStatus();
}

// gRPC uses a channel's own service config only when its resolver has none;
// the xds resolver always has one (the control plane's), so these fields
// would be silently ignored: refused instead, so that nobody believes them.
absl::Status ValidateXdsService(const std::string& p, const ServiceMesh& s) {
  if (!absl::StartsWith(s.target(), "xds:")) return absl::OkStatus();
  std::string field;
  if (s.load_balancing() != v1::LOAD_BALANCING_UNSPECIFIED) {
    field = "load_balancing";
  } else if (s.has_health_check()) {
    field = "health_check";
  } else if (s.has_retry()) {
    field = "retry";
  } else if (s.has_retry_throttling()) {
    field = "retry_throttling";
  } else if (s.has_outlier_detection()) {
    field = "outlier_detection";
  } else {
    return absl::OkStatus();
  }
  return Bad(absl::StrCat(p, ".", field),
             absl::StrCat("has no effect with an xds:/// target: the xDS "
                          "control plane's config replaces the mesh's service "
                          "config (balancing, health checks, retries, "
                          "outlier detection); set it there and remove ",
                          field, " here"));
}

absl::Status ValidateService(const std::string& p, const ServiceMesh& s,
                             bool has_tls) {
  if (s.target().empty()) return Bad(p + ".target", "is required");
  absl::Status authorization = ValidateAuthorization(p, s, has_tls);
  if (!authorization.ok()) return authorization;
  if (s.load_balancing() == v1::RING_HASH) {
    return Bad(p + ".load_balancing",
               "RING_HASH cannot work from the mesh config: gRPC 1.51 hashes "
               "a call only by an xDS route's hash policy (a call without "
               "one crashes the process), and with an xds:/// target the "
               "control plane chooses the balancing; use ROUND_ROBIN or "
               "PICK_FIRST, or ring hash in the xDS control plane");
  }
  absl::Status xds = ValidateXdsService(p, s);
  if (!xds.ok()) return xds;
  if (s.load_balancing() == v1::PICK_FIRST && !s.health_check().disabled()) {
    return Bad(p + ".health_check",
               "client-side health checking needs ROUND_ROBIN; set "
               "health_check.disabled or another load_balancing");
  }
  absl::Status st = CheckDuration(p + ".timeout", s.timeout(), true);
  if (!st.ok()) return st;
  for (const auto& [method, timeout] : s.method_timeouts()) {
    std::string mp = absl::StrCat(p, ".method_timeouts[\"", method, "\"]");
    if (!IsIdentifier(method)) return Bad(mp, "is not a method name");
    st = CheckDuration(mp, timeout, false);
    if (!st.ok()) return st;
  }
  const v1::RetryPolicy& r = s.retry();
  if (r.max_attempts() > 5) {
    return Bad(p + ".retry.max_attempts",
               absl::StrCat("must be 1 to 5 (0: the default), got ",
                            r.max_attempts()));
  }
  st = CheckMilliseconds(p + ".retry.initial_backoff", r.initial_backoff(),
                         kNoMaxMs);
  if (st.ok()) {
    st = CheckMilliseconds(p + ".retry.max_backoff", r.max_backoff(), kNoMaxMs);
  }
  if (!st.ok()) return st;
  if (r.backoff_multiplier() != 0 && !(r.backoff_multiplier() >= 1)) {
    return Bad(p + ".retry.backoff_multiplier", "must be at least 1");
  }
  for (int i = 0; i < r.retryable_status_codes_size(); ++i) {
    st = CheckCodeName(absl::StrCat(p, ".retry.retryable_status_codes[", i, "]"),
                       r.retryable_status_codes(i));
    if (!st.ok()) return st;
  }
  if (s.retry_throttling().max_tokens() > 1000) {
    return Bad(p + ".retry_throttling.max_tokens", "must be at most 1000");
  }
  if (!(s.retry_throttling().token_ratio() >= 0)) {
    return Bad(p + ".retry_throttling.token_ratio", "must not be negative");
  }
  const v1::OutlierDetection& o = s.outlier_detection();
  st = CheckPercent(p + ".outlier_detection.max_ejection_percent",
                    o.max_ejection_percent());
  if (st.ok()) {
    st = CheckPercent(p + ".outlier_detection.failure_percentage_threshold",
                      o.failure_percentage_threshold());
  }
  for (const auto& [name, d] :
       {std::pair<const char*, const Duration*>{"interval", &o.interval()},
        {"base_ejection_time", &o.base_ejection_time()},
        {"max_ejection_time", &o.max_ejection_time()}}) {
    if (st.ok()) {
      st = CheckDuration(absl::StrCat(p, ".outlier_detection.", name), *d, true);
    }
  }
  if (st.ok()) {
    st = CheckKeepaliveTime(p + ".keepalive.time", s.keepalive().time());
  }
  if (st.ok()) {
    st = CheckMilliseconds(p + ".keepalive.timeout", s.keepalive().timeout(),
                           kMaxChannelArgMs);
  }
  if (!st.ok()) return st;
  for (int i = 0; i < s.faults_size(); ++i) {
    const v1::FaultInjection& f = s.faults(i);
    std::string fp = absl::StrCat(p, ".faults[", i, "]");
    if (f.method() != "*" && !IsIdentifier(f.method())) {
      return Bad(fp + ".method", "must be a method name or \"*\"");
    }
    st = CheckPercent(fp + ".delay_percent", f.delay_percent());
    if (st.ok()) st = CheckPercent(fp + ".abort_percent", f.abort_percent());
    if (st.ok()) st = CheckDuration(fp + ".delay", f.delay(), true);
    if (st.ok() && f.abort_percent() > 0) {
      st = CheckCodeName(fp + ".abort_code", f.abort_code());
    }
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateMeshConfig(const MeshConfig& config) {
  if (config.has_tls()) {
    if (config.tls().ca_file().empty()) {
      return Bad("tls.ca_file", "is required (the CA certificate(s), PEM)");
    }
    const Duration& refresh = config.tls().refresh_interval();
    absl::Status s = CheckDuration("tls.refresh_interval", refresh, true);
    if (!s.ok()) return s;
    if ((refresh.seconds() != 0 || refresh.nanos() != 0) &&
        refresh.seconds() < 1) {
      return Bad("tls.refresh_interval", "must be at least 1s");
    }
  }
  for (const auto& [name, service] : config.services()) {
    std::string path = absl::StrCat("services[\"", name, "\"]");
    if (!IsFullServiceName(name)) {
      return Bad(path, "is not a full service name (package.Service)");
    }
    absl::Status s = ValidateService(path, service, config.has_tls());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<MeshConfig> ParseMeshConfig(absl::string_view json) {
  return ParseJsonConfig<MeshConfig>(json, "mesh config", ValidateMeshConfig);
}

absl::StatusOr<MeshConfig> ReadMeshConfig(const std::string& path) {
  return ReadJsonConfig<MeshConfig>(path, "mesh config", ValidateMeshConfig);
}

}  // namespace stubmesh::mesh
