#include "server/fault_injection.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "mesh/mesh_config_loader.h"
#include "status/status_mapping.h"

namespace stubmesh::server {
namespace {

constexpr char kFlag[] = "--inject_faults";

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Uniform in [0, 100): 0% never fires and 100% always does.
bool Chance(absl::BitGenRef bits, double percent) {
  return percent > 0 && absl::Uniform(bits, 0.0, 100.0) < percent;
}

std::string DescribeRule(const FaultInjection& rule) {
  std::vector<std::string> parts;
  if (rule.delay_percent() > 0) {
    parts.push_back(
        absl::StrCat("delay ", rule.delay_percent(), "% ",
                     absl::FormatDuration(ToDuration(rule.delay()))));
  }
  if (rule.abort_percent() > 0) {
    parts.push_back(
        absl::StrCat("abort ", rule.abort_percent(), "% ", rule.abort_code()));
  }
  if (parts.empty()) parts.push_back("nothing");
  return absl::StrCat(rule.method(), ": ", absl::StrJoin(parts, ", "));
}

}  // namespace

std::string FaultDecision::Label() const {
  const bool delayed = delay > absl::ZeroDuration();
  if (delayed && abort.has_value()) return "delay,abort";
  if (delayed) return "delay";
  if (abort.has_value()) return "abort";
  return "";
}

FaultDecision DecideFault(const FaultInjection& rule, absl::BitGenRef bits) {
  FaultDecision decision;
  const absl::Duration delay = ToDuration(rule.delay());
  if (delay > absl::ZeroDuration() && Chance(bits, rule.delay_percent())) {
    decision.delay = delay;
  }
  if (Chance(bits, rule.abort_percent())) {
    absl::StatusOr<absl::StatusCode> code =
        StatusCodeFromName(rule.abort_code());
    // Validation refuses other codes; a rule built in code that slips
    // through aborts nothing rather than answering OK with no response.
    if (code.ok() && *code != absl::StatusCode::kOk) decision.abort = *code;
  }
  return decision;
}

const FaultInjection* RuleForMethod(const std::vector<FaultInjection>& rules,
                                    absl::string_view method) {
  const FaultInjection* wildcard = nullptr;
  for (const FaultInjection& rule : rules) {
    if (rule.method() == method) return &rule;
    if (wildcard == nullptr && rule.method() == "*") wildcard = &rule;
  }
  return wildcard;
}

absl::StatusOr<std::vector<FaultInjection>> ParseInjectFaults(
    absl::string_view json) {
  json = absl::StripAsciiWhitespace(json);
  if (!absl::StartsWith(json, "[") || !absl::EndsWith(json, "]")) {
    return absl::InvalidArgumentError(absl::StrCat(
        kFlag,
        ": must be a JSON array of stubmesh.mesh.v1.FaultInjection, e.g. "
        "[{\"method\":\"GetUser\",\"abortPercent\":50,"
        "\"abortCode\":\"UNAVAILABLE\"}]"));
  }
  // The array parsed as the `faults` field of a ServiceMesh, and checked as
  // the faults of a stand-in service: the mesh config's own rules, applied
  // by its own loader, with the path renamed after the flag.
  mesh::v1::ServiceMesh holder;
  google::protobuf::util::Status parsed =
      google::protobuf::util::JsonStringToMessage(
          absl::StrCat("{\"faults\": ", json, "}"), &holder);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kFlag, ": ", parsed.message().as_string()));
  }
  constexpr char kStandIn[] = "stubmesh.flag.InjectFaults";
  mesh::v1::MeshConfig config;
  mesh::v1::ServiceMesh& service = (*config.mutable_services())[kStandIn];
  service.set_target("-");
  *service.mutable_faults() = holder.faults();
  absl::Status valid = mesh::ValidateMeshConfig(config);
  if (!valid.ok()) {
    std::string message(valid.message());
    const std::string prefix =
        absl::StrCat("services[\"", kStandIn, "\"].faults");
    if (absl::StartsWith(message, prefix)) {
      message = absl::StrCat(kFlag, message.substr(prefix.size()));
    } else {
      message = absl::StrCat(kFlag, ": ", message);
    }
    return absl::InvalidArgumentError(message);
  }
  return std::vector<FaultInjection>(holder.faults().begin(),
                                     holder.faults().end());
}

std::unique_ptr<FaultInjector> FaultInjector::Create(
    const std::vector<std::string>& services,
    const std::optional<mesh::v1::MeshConfig>& mesh_config,
    const std::vector<FaultInjection>* override_faults) {
  std::map<std::string, std::vector<FaultInjection>, std::less<>> rules;
  for (const std::string& service : services) {
    std::vector<FaultInjection> mine;
    if (override_faults != nullptr) {
      mine = *override_faults;
    } else if (mesh_config.has_value()) {
      auto it = mesh_config->services().find(service);
      if (it != mesh_config->services().end()) {
        mine.assign(it->second.faults().begin(), it->second.faults().end());
      }
    }
    if (!mine.empty()) rules[service] = std::move(mine);
  }
  return std::unique_ptr<FaultInjector>(new FaultInjector(std::move(rules)));
}

FaultDecision FaultInjector::Decide(absl::string_view service,
                                    absl::string_view method) {
  auto it = rules_.find(service);
  if (it == rules_.end()) return {};
  const FaultInjection* rule = RuleForMethod(it->second, method);
  if (rule == nullptr) return {};
  absl::MutexLock lock(&mu_);
  return DecideFault(*rule, bits_);
}

std::vector<std::string> FaultInjector::Describe() const {
  std::vector<std::string> lines;
  for (const auto& [service, rules] : rules_) {
    std::vector<std::string> described;
    for (const FaultInjection& rule : rules) {
      described.push_back(DescribeRule(rule));
    }
    lines.push_back(absl::StrCat(service, " ", absl::StrJoin(described, "; ")));
  }
  return lines;
}

std::optional<absl::Status> InjectedAbort(
    const grpc::ServerContextBase& context) {
  auto it = context.client_metadata().find(kInjectedAbortKey);
  if (it == context.client_metadata().end()) return std::nullopt;
  absl::StatusOr<absl::StatusCode> code = StatusCodeFromName(
      absl::string_view(it->second.data(), it->second.size()));
  if (!code.ok()) return std::nullopt;
  return absl::Status(*code, kInjectedFaultMessage);
}

}  // namespace stubmesh::server
