#include "launcher/topology.h"

#include <arpa/inet.h>

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mesh/json_config.h"

namespace stubmesh::launcher {
namespace {

using ::google::protobuf::Duration;

absl::Status Bad(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

bool IsName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

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

bool IsIpLiteral(const std::string& host) {
  in6_addr scratch;
  return inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
}

absl::Status CheckDuration(const std::string& path, const Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0)
    return Bad(path, "must not be negative");
  return absl::OkStatus();
}

absl::Duration OrDefault(const Duration& d, absl::Duration fallback) {
  if (d.seconds() == 0 && d.nanos() == 0) return fallback;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Fixed ports must not collide: two processes on one port would leave one
// of them restarting forever.
class PortClaims {
 public:
  absl::Status Claim(int port, const std::string& path) {
    if (port > 65535) {
      return Bad(path, absl::StrCat("port ", port, " is above 65535"));
    }
    auto [it, inserted] = owner_.emplace(port, path);
    if (!inserted) {
      return Bad(path,
                 absl::StrCat("port ", port, " is also ", it->second, "'s"));
    }
    return absl::OkStatus();
  }

 private:
  std::map<int, std::string> owner_;
};

absl::Status ValidateService(const std::string& p, const ServiceTopology& s,
                             PortClaims& ports) {
  if (!IsName(s.name())) {
    return Bad(p + ".name", "must be letters, digits, '_' or '-'");
  }
  if (s.name() == "gateway") {
    return Bad(p + ".name", "'gateway' is the gateway's name");
  }
  if (s.binary().empty()) return Bad(p + ".binary", "is required");
  if (s.replicas() > kMaxReplicas) {
    return Bad(p + ".replicas", absl::StrCat("must be at most ", kMaxReplicas,
                                             ", got ", s.replicas()));
  }
  if (!s.db().empty() &&
      (absl::StrContains(s.db(), '/') || s.db() == "." || s.db() == "..")) {
    return Bad(p + ".db", "must be a file name in the state dir");
  }
  if (s.base_port() > 0) {
    const int step = s.port_step() == 0 ? 1 : s.port_step();
    for (int i = 0; i < ReplicaCount(s); ++i) {
      absl::Status st =
          ports.Claim(s.base_port() + i * step,
                      absl::StrCat(p, " (", s.name(), "-", i, ")"));
      if (!st.ok()) return st;
    }
  }
  for (int i = 0; i < s.serves_size(); ++i) {
    if (!IsFullServiceName(s.serves(i))) {
      return Bad(absl::StrCat(p, ".serves[", i, "]"),
                 absl::StrCat("'", s.serves(i),
                              "' is not a full service name "
                              "(package.Service)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int ReplicaCount(const ServiceTopology& service) {
  return service.replicas() == 0 ? 1 : static_cast<int>(service.replicas());
}

SupervisionTimes SupervisionTimesOf(const Supervision& s) {
  SupervisionTimes defaults;
  SupervisionTimes t;
  t.startup_timeout = OrDefault(s.startup_timeout(), defaults.startup_timeout);
  t.initial_backoff = OrDefault(s.initial_backoff(), defaults.initial_backoff);
  t.max_backoff = OrDefault(s.max_backoff(), defaults.max_backoff);
  t.reset_after = OrDefault(s.reset_after(), defaults.reset_after);
  t.stop_timeout = OrDefault(s.stop_timeout(), defaults.stop_timeout);
  return t;
}

absl::Status ValidateTopology(const Topology& topology) {
  if (!topology.host().empty() && !IsIpLiteral(topology.host())) {
    return Bad("host", absl::StrCat("'", topology.host(),
                                    "' is not an IP address (127.0.0.1, ::1)"));
  }
  if (topology.services().empty()) return Bad("services", "none given");
  PortClaims ports;
  std::set<std::string> names;
  std::map<std::string, std::string> server_of;  // full service name → name
  for (int i = 0; i < topology.services_size(); ++i) {
    const ServiceTopology& s = topology.services(i);
    const std::string p = absl::StrCat("services[", i, "]");
    absl::Status st = ValidateService(p, s, ports);
    if (!st.ok()) return st;
    if (!names.insert(s.name()).second) {
      return Bad(p + ".name", absl::StrCat("'", s.name(), "' is used twice"));
    }
    for (const std::string& served : s.serves()) {
      auto [it, inserted] = server_of.emplace(served, s.name());
      if (!inserted) {
        return Bad(p + ".serves",
                   absl::StrCat(served, " is also served by ", it->second));
      }
    }
  }
  const GatewayTopology& gateway = topology.gateway();
  if (gateway.binary().empty() &&
      (gateway.port() != 0 || !gateway.descriptor_sets().empty() ||
       !gateway.args().empty())) {
    return Bad("gateway.binary", "is required when the gateway is configured");
  }
  if (!gateway.binary().empty() && gateway.port() > 0) {
    absl::Status st = ports.Claim(gateway.port(), "gateway");
    if (!st.ok()) return st;
  }
  for (const auto& [name, service] : topology.mesh().services()) {
    const std::string p = absl::StrCat("mesh.services[\"", name, "\"]");
    if (server_of.count(name) == 0) {
      return Bad(p, "no entry of `services` serves it");
    }
    if (!service.target().empty()) {
      return Bad(p + ".target", "is set by the launcher; leave it out");
    }
  }
  if (topology.has_tls() && topology.tls().cert_dir().empty()) {
    return Bad("tls.cert_dir",
               "is required (a directory made by tools/dev-ca.sh)");
  }
  if (topology.mesh().has_tls()) {
    return Bad("mesh.tls",
               "is set by the launcher from tls.cert_dir; leave it out");
  }
  const Supervision& s = topology.supervision();
  for (const auto& [path, d] :
       std::initializer_list<std::pair<const char*, const Duration*>>{
           {"supervision.startup_timeout", &s.startup_timeout()},
           {"supervision.initial_backoff", &s.initial_backoff()},
           {"supervision.max_backoff", &s.max_backoff()},
           {"supervision.reset_after", &s.reset_after()},
           {"supervision.stop_timeout", &s.stop_timeout()}}) {
    absl::Status st = CheckDuration(path, *d);
    if (!st.ok()) return st;
  }
  SupervisionTimes times = SupervisionTimesOf(s);
  if (times.initial_backoff > times.max_backoff) {
    return Bad("supervision.initial_backoff",
               absl::StrCat("must not exceed max_backoff (",
                            absl::FormatDuration(times.max_backoff), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Topology> ParseTopology(absl::string_view json) {
  return mesh::ParseJsonConfig<Topology>(json, "topology", ValidateTopology);
}

absl::StatusOr<Topology> ReadTopology(const std::string& path) {
  return mesh::ReadJsonConfig<Topology>(path, "topology", ValidateTopology);
}

}  // namespace stubmesh::launcher
