#include "launcher/launch_plan.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "launcher/ports.h"
#include "mesh/mesh_config_loader.h"

namespace stubmesh::launcher {
namespace {

namespace fs = std::filesystem;

// Children run with the launcher's working directory, but the paths they
// get, the status file prints and a reader may use elsewhere are absolute.
std::string Absolute(const std::string& path) {
  std::error_code error;
  fs::path absolute = fs::absolute(path, error);
  if (error) return path;
  return absolute.lexically_normal().string();
}

std::string InBinDir(const std::string& bin_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return Absolute((fs::path(bin_dir) / path).string());
}

// The ports of one service (or the gateway): fixed by the topology, or taken
// from `pool` (free ones).
std::vector<int> PortsOf(int base_port, int step, int count, bool free_ports,
                         std::vector<int>& pool) {
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    if (base_port > 0 && !free_ports) {
      ports.push_back(base_port + i * step);
    } else {
      ports.push_back(pool.back());
      pool.pop_back();
    }
  }
  return ports;
}

}  // namespace

std::vector<const ProcessPlan*> ProcessesOf(const LaunchPlan& plan) {
  std::vector<const ProcessPlan*> processes;
  for (const ServicePlan& service : plan.services) {
    for (const ProcessPlan& replica : service.replicas) {
      processes.push_back(&replica);
    }
  }
  if (plan.gateway.has_value()) processes.push_back(&*plan.gateway);
  return processes;
}

std::string HostOf(const Topology& topology) {
  return topology.host().empty() ? kDefaultHost : topology.host();
}

std::string MeshTarget(const std::string& host, const std::vector<int>& ports) {
  std::vector<std::string> addresses;
  for (int port : ports) addresses.push_back(HostPort(host, port));
  return absl::StrCat(absl::StrContains(host, ':') ? "ipv6:" : "ipv4:",
                      absl::StrJoin(addresses, ","));
}

absl::StatusOr<LaunchPlan> BuildLaunchPlan(const Topology& topology,
                                           const LaunchOptions& options,
                                           const PortPicker& pick_free_ports) {
  const bool has_gateway = !topology.gateway().binary().empty();
  int free_needed = 0;
  for (const ServiceTopology& s : topology.services()) {
    if (s.base_port() == 0 || options.free_ports)
      free_needed += ReplicaCount(s);
    free_needed += ReplicaCount(s);  // admin ports
  }
  if (has_gateway && (topology.gateway().port() == 0 || options.free_ports)) {
    ++free_needed;
  }
  std::vector<int> pool;
  if (free_needed > 0) {
    absl::StatusOr<std::vector<int>> picked = pick_free_ports(free_needed);
    if (!picked.ok()) return picked.status();
    if (static_cast<int>(picked->size()) != free_needed) {
      return absl::InternalError(absl::StrCat(
          "asked for ", free_needed, " free ports, got ", picked->size()));
    }
    pool = *std::move(picked);
  }

  LaunchPlan plan;
  plan.host = HostOf(topology);
  plan.state_dir =
      Absolute(!options.state_dir.empty()      ? options.state_dir
               : !topology.state_dir().empty() ? topology.state_dir()
                                               : kDefaultStateDir);
  plan.log_dir = plan.state_dir + "/log";
  plan.mesh_config_path = plan.state_dir + "/mesh.json";
  plan.status_path = plan.state_dir + "/launcher.json";
  plan.prometheus_targets_path = plan.state_dir + "/prometheus_targets.json";
  plan.supervision = SupervisionTimesOf(topology.supervision());
  plan.mesh_config = topology.mesh();
  const std::string tls_dir =
      !options.tls_dir.empty() ? Absolute(options.tls_dir)
      : topology.has_tls()     ? Absolute(topology.tls().cert_dir())
                               : "";
  // Gives `process` the certificate of `name`, and the flags that name it.
  auto add_tls = [&tls_dir](const std::string& name, ProcessPlan& process) {
    if (tls_dir.empty()) return;
    process.tls_cert_file = absl::StrCat(tls_dir, "/", name, ".crt");
    process.tls_key_file = absl::StrCat(tls_dir, "/", name, ".key");
    process.argv.push_back("--tls_cert_file=" + process.tls_cert_file);
    process.argv.push_back("--tls_key_file=" + process.tls_key_file);
  };
  if (!tls_dir.empty()) {
    plan.mesh_config.mutable_tls()->set_ca_file(tls_dir + "/ca.crt");
    plan.probe_cert_file = tls_dir + "/launcher.crt";
    plan.probe_key_file = tls_dir + "/launcher.key";
  }

  for (const ServiceTopology& s : topology.services()) {
    ServicePlan service;
    service.name = s.name();
    service.serves.assign(s.serves().begin(), s.serves().end());
    service.db_path = absl::StrCat(plan.state_dir, "/",
                                   s.db().empty() ? s.name() + ".db" : s.db());
    const std::vector<int> ports =
        PortsOf(s.base_port(), s.port_step() == 0 ? 1 : s.port_step(),
                ReplicaCount(s), options.free_ports, pool);
    // Always free ones: the topology names no admin ports.
    const std::vector<int> admin_ports =
        PortsOf(0, 1, ReplicaCount(s), options.free_ports, pool);
    service.target = MeshTarget(plan.host, ports);
    for (int i = 0; i < static_cast<int>(ports.size()); ++i) {
      ProcessPlan replica;
      replica.name = absl::StrCat(s.name(), "-", i);
      replica.port = ports[i];
      replica.admin_port = admin_ports[i];
      replica.log_path = absl::StrCat(plan.log_dir, "/", replica.name, ".log");
      replica.argv = {InBinDir(options.bin_dir, s.binary()),
                      absl::StrCat("--host=", plan.host),
                      absl::StrCat("--port=", ports[i]),
                      absl::StrCat("--admin_port=", admin_ports[i]),
                      absl::StrCat("--db=", service.db_path),
                      absl::StrCat("--mesh_config=", plan.mesh_config_path)};
      add_tls(s.name(), replica);
      replica.argv.insert(replica.argv.end(), s.args().begin(), s.args().end());
      service.replicas.push_back(std::move(replica));
    }
    for (const std::string& served : service.serves) {
      (*plan.mesh_config.mutable_services())[served].set_target(service.target);
    }
    plan.services.push_back(std::move(service));
  }

  if (has_gateway) {
    const GatewayTopology& g = topology.gateway();
    std::vector<int> port = PortsOf(g.port(), 1, 1, options.free_ports, pool);
    ProcessPlan gateway;
    gateway.name = "gateway-0";
    gateway.port = port[0];
    gateway.log_path = absl::StrCat(plan.log_dir, "/gateway-0.log");
    gateway.argv = {InBinDir(options.bin_dir, g.binary()),
                    absl::StrCat("--host=", plan.host),
                    absl::StrCat("--port=", port[0]),
                    absl::StrCat("--mesh_config=", plan.mesh_config_path)};
    add_tls("gateway", gateway);
    for (const std::string& set : g.descriptor_sets()) {
      gateway.argv.push_back(
          absl::StrCat("--descriptor_set=", InBinDir(options.bin_dir, set)));
    }
    gateway.argv.insert(gateway.argv.end(), g.args().begin(), g.args().end());
    plan.gateway = std::move(gateway);
  }

  absl::Status valid = mesh::ValidateMeshConfig(plan.mesh_config);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the mesh config made from the topology is refused: ",
                     valid.message()));
  }
  return plan;
}

absl::Status CheckPlanFiles(const LaunchPlan& plan) {
  auto check_binary = [](const std::string& path) -> absl::Status {
    if (access(path.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          path,
          " is not an executable file (build it, e.g. `bazel build "
          "//user_svc:user_svc`, or fix --bin_dir)"));
    }
    return absl::OkStatus();
  };
  for (const ServicePlan& service : plan.services) {
    absl::Status s = check_binary(service.replicas[0].argv[0]);
    if (!s.ok()) return s;
  }
  // The mTLS files each process is given, and the launcher's own.
  auto check_tls_file = [](const std::string& path) -> absl::Status {
    if (access(path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          path,
          " cannot be read (make the certificates with `tools/dev-ca.sh "
          "DIR NAME...`, NAME being each service's name, gateway and "
          "launcher)"));
    }
    return absl::OkStatus();
  };
  if (plan.mesh_config.has_tls()) {
    std::vector<std::string> tls_files = {plan.mesh_config.tls().ca_file(),
                                          plan.probe_cert_file,
                                          plan.probe_key_file};
    for (const ProcessPlan* process : ProcessesOf(plan)) {
      tls_files.push_back(process->tls_cert_file);
      tls_files.push_back(process->tls_key_file);
    }
    for (const std::string& path : tls_files) {
      absl::Status s = check_tls_file(path);
      if (!s.ok()) return s;
    }
  }
  if (plan.gateway.has_value()) {
    absl::Status s = check_binary(plan.gateway->argv[0]);
    if (!s.ok()) return s;
    for (const std::string& arg : plan.gateway->argv) {
      constexpr absl::string_view kFlag = "--descriptor_set=";
      if (!absl::StartsWith(arg, kFlag)) continue;
      const std::string path = arg.substr(kFlag.size());
      if (access(path.c_str(), R_OK) != 0) {
        return absl::NotFoundError(
            absl::StrCat(path,
                         " cannot be read (build it, e.g. `bazel build "
                         "//protos:descriptor_set`, or fix --bin_dir)"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace stubmesh::launcher
