// launcher: brings stubmesh up on one machine from a topology file, keeps it
// up (crashed processes are restarted) and stops it gracefully on Ctrl-C.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "launcher/launch_plan.h"
#include "launcher/ports.h"
#include "launcher/supervisor.h"
#include "launcher/topology.h"

ABSL_FLAG(std::string, topology, "",
          "The topology: JSON of stubmesh.mesh.v1.Topology (see "
          "protos/stubmesh/mesh/v1/topology.proto), e.g. "
          "deploy/local/topology.json.");
ABSL_FLAG(std::string, bin_dir, "bazel-bin",
          "Where the topology's relative binary and descriptor set paths "
          "are.");
ABSL_FLAG(std::string, state_dir, "",
          "SQLite files, logs, the mesh config and launcher.json go here; "
          "empty: the topology's state_dir (default var).");
ABSL_FLAG(std::string, tls_dir, "",
          "Run with mTLS between the processes, with the CA and "
          "certificates in this directory (ca.crt, <service name>.crt/.key, "
          "gateway.crt/.key, launcher.crt/.key; tools/dev-ca.sh DIR makes "
          "them). Replaces the topology's tls.cert_dir.");
ABSL_FLAG(bool, free_ports, false,
          "Pick free ports for every process, ignoring the topology's ports "
          "(to run beside another copy, or in tests).");

int main(int argc, char** argv) {
  // Before any thread starts (gRPC's included), so that every thread leaves
  // these signals to the supervisor's signalfd.
  stubmesh::launcher::BlockSupervisorSignals();
  absl::SetProgramUsageMessage(
      "Runs stubmesh's services and REST gateway on this machine. Example:\n"
      "  launcher --topology=deploy/local/topology.json --bin_dir=bazel-bin "
      "--state_dir=var");
  absl::ParseCommandLine(argc, argv);

  const std::string path = absl::GetFlag(FLAGS_topology);
  if (path.empty()) {
    absl::FPrintF(stderr, "launcher: --topology is required (try --help)\n");
    return 2;
  }
  absl::StatusOr<stubmesh::launcher::Topology> topology =
      stubmesh::launcher::ReadTopology(path);
  if (!topology.ok()) {
    absl::FPrintF(stderr, "launcher: %s\n", topology.status().message());
    return 1;
  }
  stubmesh::launcher::LaunchOptions options;
  options.bin_dir = absl::GetFlag(FLAGS_bin_dir);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.free_ports = absl::GetFlag(FLAGS_free_ports);
  options.tls_dir = absl::GetFlag(FLAGS_tls_dir);
  const std::string host = stubmesh::launcher::HostOf(*topology);
  absl::StatusOr<stubmesh::launcher::LaunchPlan> plan =
      stubmesh::launcher::BuildLaunchPlan(*topology, options, [&](int count) {
        return stubmesh::launcher::PickFreePorts(host, count);
      });
  if (!plan.ok()) {
    absl::FPrintF(stderr, "launcher: %s: %s\n", path, plan.status().message());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<stubmesh::launcher::Supervisor>> supervisor =
      stubmesh::launcher::Supervisor::Create(*std::move(plan));
  if (!supervisor.ok()) {
    absl::FPrintF(stderr, "launcher: %s\n", supervisor.status().message());
    return 1;
  }
  return (*supervisor)->Run();
}
