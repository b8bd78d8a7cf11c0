#include "gateway/api_catalog.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor_database.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptorProto;
using ::google::protobuf::MethodDescriptor;

// Collects the first error of a pool build, with the file and element.
class CollectingErrors final
    : public google::protobuf::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const google::protobuf::Message*, ErrorLocation,
                const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(filename, ": ", element_name, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

absl::Status RouteError(const MethodDescriptor* method,
                        absl::string_view pattern, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "google.api.http of ", method->full_name(), " (", pattern, "): ", why));
}

// Checks that every variable of `path` names a singular non-message field
// (or a well-known type parsed from a string) of the request.
absl::Status CheckPathVariables(const MethodDescriptor* method,
                                absl::string_view pattern,
                                absl::string_view path) {
  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(path);
  if (!parsed.ok())
    return RouteError(method, pattern, parsed.status().message());
  for (const PathVariable& variable : parsed->variables) {
    const Descriptor* message = method->input_type();
    const FieldDescriptor* field = nullptr;
    for (size_t i = 0; i < variable.field_path.size(); ++i) {
      if (message == nullptr) {
        return RouteError(
            method, pattern,
            absl::StrCat("'", absl::StrJoin(variable.field_path, "."),
                         "' goes through a non-message field"));
      }
      field = message->FindFieldByName(variable.field_path[i]);
      if (field == nullptr) {
        return RouteError(method, pattern,
                          absl::StrCat("no field '", variable.field_path[i],
                                       "' in ", message->full_name()));
      }
      if (field->is_repeated()) {
        return RouteError(method, pattern,
                          absl::StrCat("path variable field '",
                                       field->full_name(), "' is repeated"));
      }
      message = field->message_type();
    }
    if (field->message_type() != nullptr &&
        field->message_type()->file()->name().rfind("google/protobuf/", 0) !=
            0) {
      return RouteError(method, pattern,
                        absl::StrCat("path variable field '",
                                     field->full_name(), "' is a message"));
    }
  }
  return absl::OkStatus();
}

struct Binding {
  std::string http_method;
  std::string path;
};

absl::StatusOr<Binding> BindingOf(const google::api::HttpRule& rule,
                                  const MethodDescriptor* method) {
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      return Binding{"GET", rule.get()};
    case google::api::HttpRule::kPut:
      return Binding{"PUT", rule.put()};
    case google::api::HttpRule::kPost:
      return Binding{"POST", rule.post()};
    case google::api::HttpRule::kDelete:
      return Binding{"DELETE", rule.delete_()};
    case google::api::HttpRule::kPatch:
      return Binding{"PATCH", rule.patch()};
    case google::api::HttpRule::kCustom:
      if (rule.custom().kind().empty()) {
        return RouteError(method, "custom", "custom.kind is empty");
      }
      return Binding{rule.custom().kind(), rule.custom().path()};
    default:
      return RouteError(method, "?", "no HTTP method and path");
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ApiCatalog>> ApiCatalog::Create(
    const std::vector<FileDescriptorProto>& files) {
  std::shared_ptr<ApiCatalog> catalog(new ApiCatalog());
  catalog->database_ =
      std::make_unique<google::protobuf::SimpleDescriptorDatabase>();
  absl::flat_hash_set<std::string> seen;
  for (const FileDescriptorProto& file : files) {
    if (!seen.insert(file.name()).second) continue;
    catalog->files_.push_back(file);
    catalog->database_->Add(file);
  }
  // A pool over the database resolves imports in any order. Every file is
  // built now, not lazily, so that every error shows at start.
  CollectingErrors errors;
  catalog->pool_ = std::make_unique<google::protobuf::DescriptorPool>(
      catalog->database_.get(), &errors);
  for (const FileDescriptorProto& file : catalog->files_) {
    if (catalog->pool_->FindFileByName(file.name()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "descriptor ", file.name(), " does not build: ",
          errors.first().empty() ? "missing import" : errors.first()));
    }
  }
  catalog->factory_ = std::make_unique<google::protobuf::DynamicMessageFactory>(
      catalog->pool_.get());
  catalog->json_types_ =
      std::make_unique<CachingTypeResolver>(catalog->pool_.get());

  RouteTableBuilder builder;
  for (const FileDescriptorProto& file_proto : catalog->files_) {
    const google::protobuf::FileDescriptor* file =
        catalog->pool_->FindFileByName(file_proto.name());
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      bool has_route = false;
      for (int m = 0; m < service->method_count(); ++m) {
        const MethodDescriptor* method = service->method(m);
        if (!method->options().HasExtension(google::api::http)) continue;
        if (method->client_streaming()) continue;  // Not expressible as REST.
        const google::api::HttpRule& top =
            method->options().GetExtension(google::api::http);
        std::vector<const google::api::HttpRule*> rules = {&top};
        for (const google::api::HttpRule& extra : top.additional_bindings()) {
          if (!extra.additional_bindings().empty()) {
            return RouteError(method, "additional_bindings",
                              "additional_bindings must not nest");
          }
          rules.push_back(&extra);
        }
        for (const google::api::HttpRule* rule : rules) {
          absl::StatusOr<Binding> binding = BindingOf(*rule, method);
          if (!binding.ok()) return binding.status();
          std::string pattern =
              absl::StrCat(binding->http_method, " ", binding->path);
          absl::Status s = CheckPathVariables(method, pattern, binding->path);
          if (!s.ok()) return s;
          HttpRoute route;
          route.http_method = binding->http_method;
          route.path_template = binding->path;
          route.method = method;
          route.grpc_path =
              absl::StrCat("/", service->full_name(), "/", method->name());
          if (rule->body() == "*") {
            route.body = HttpRoute::Body::kWhole;
          } else if (!rule->body().empty()) {
            route.body = HttpRoute::Body::kField;
            route.body_field =
                method->input_type()->FindFieldByName(rule->body());
            if (route.body_field == nullptr) {
              return RouteError(
                  method, pattern,
                  absl::StrCat("body '", rule->body(), "' is not a field of ",
                               method->input_type()->full_name()));
            }
          }
          if (!rule->response_body().empty()) {
            route.response_body_field =
                method->output_type()->FindFieldByName(rule->response_body());
            if (route.response_body_field == nullptr) {
              return RouteError(
                  method, pattern,
                  absl::StrCat("response_body '", rule->response_body(),
                               "' is not a field of ",
                               method->output_type()->full_name()));
            }
          }
          route.request_prototype =
              catalog->factory_->GetPrototype(method->input_type());
          route.response_prototype =
              catalog->factory_->GetPrototype(method->output_type());
          route.json_types = catalog->json_types_.get();
          int index = static_cast<int>(catalog->http_routes_.size());
          s = builder.Add(route.http_method, route.path_template, index,
                          method->full_name());
          if (!s.ok()) return s;
          catalog->http_routes_.push_back(std::move(route));
          has_route = true;
        }
      }
      if (has_route) catalog->service_names_.push_back(service->full_name());
    }
  }
  catalog->routes_ = builder.Build();
  return std::shared_ptr<const ApiCatalog>(std::move(catalog));
}

absl::StatusOr<std::vector<FileDescriptorProto>> ReadFileDescriptorSet(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read descriptor set ", path));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromString(bytes.str())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     " is not a FileDescriptorSet (protoc --descriptor_set_out "
                     "--include_imports)"));
  }
  return std::vector<FileDescriptorProto>(set.file().begin(), set.file().end());
}

}  // namespace stubmesh::gateway
