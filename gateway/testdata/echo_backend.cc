// echo_backend: stubmesh.testing.v1.EchoService for the gateway's tests.
//
// Every method answers with what it was sent, so a test sees exactly what
// the gateway made of its HTTP request:
// - Echo, ListTags, GetInner, Hidden: return the request.
// - Request metadata `authorization`, `traceparent`, `tracestate` and every
//   `x-*` key come back as initial metadata `echo-<key>`; every call ends
//   with trailing metadata `x-trailer: done`.
// - `wait` (Duration): Echo answers only after that long; Stream waits that
//   long between messages. Waiting uses grpc::Alarm, never a gRPC thread,
//   and ends early with CANCELLED when the call is cancelled or its deadline
//   passes.
// - `name` "fail:<code>" (e.g. "fail:14"): the call fails with that gRPC
//   code and the message "asked to fail" (after the wait, if any).
// - `name` "reject:<field>": INVALID_ARGUMENT "asked to reject <field>" with
//   two details: a google.rpc.BadRequest whose one field violation names
//   <field> (description "rejected on request", reason "ASKED"), then a
//   detail of a type no descriptor describes,
//   "type.googleapis.com/stubmesh.testing.v1.Undescribed", bytes 08 2a, then
//   an EchoRequest whose name is <field>.
// - Stream: `count` copies of the request with id = 1..count; with
//   `flag` set it then ends with ABORTED "stream failed on purpose".

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/alarm.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "server/grpc_service_runner.h"
#include "stubmesh/testing/v1/transcoding.grpc.pb.h"

ABSL_FLAG(int32_t, port, 50060, "gRPC port; 0 picks a free one.");

namespace stubmesh::testing {
namespace {

using v1::EchoRequest;

// Streams longer than this are cut short: a test never needs more.
constexpr int kMaxStreamMessages = 10000;

bool IsEchoedKey(absl::string_view key) {
  return key == "authorization" || key == "traceparent" ||
         key == "tracestate" || key == "x-request-id" ||
         absl::StartsWith(key, "x-");
}

// Copies the echoed request metadata into initial metadata and adds the
// trailer. Must run before the first message or status is sent.
void EchoMetadata(grpc::CallbackServerContext* context) {
  for (const auto& [key_ref, value_ref] : context->client_metadata()) {
    std::string key(key_ref.data(), key_ref.size());
    if (!IsEchoedKey(key)) continue;
    context->AddInitialMetadata(absl::StrCat("echo-", key),
                                std::string(value_ref.data(), value_ref.size()));
  }
  context->AddTrailingMetadata("x-trailer", "done");
}

// INVALID_ARGUMENT with the error details a validating backend sends.
grpc::Status Rejection(absl::string_view field) {
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation =
      bad_request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description("rejected on request");
  violation->set_reason("ASKED");
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::INVALID_ARGUMENT);
  std::string message = absl::StrCat("asked to reject ", field);
  details.set_message(message);
  details.add_details()->PackFrom(bad_request);
  google::protobuf::Any* undescribed = details.add_details();
  undescribed->set_type_url(
      "type.googleapis.com/stubmesh.testing.v1.Undescribed");
  undescribed->set_value(std::string("\x08\x2a", 2));
  // A type the gateway knows only from the descriptor set it was given.
  EchoRequest echoed;
  echoed.set_name(std::string(field));
  details.add_details()->PackFrom(echoed);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message,
                      details.SerializeAsString());
}

// The status asked for by name "fail:<code>" or "reject:<field>"; OK when the
// name does not ask.
grpc::Status RequestedFailure(const EchoRequest& request) {
  absl::string_view name = request.name();
  if (absl::ConsumePrefix(&name, "reject:")) return Rejection(name);
  if (!absl::ConsumePrefix(&name, "fail:")) return grpc::Status::OK;
  int code = 0;
  if (!absl::SimpleAtoi(name, &code) || code < 0 || code > 16) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("name: 'fail:", name.substr(0, 32),
                                     "' does not hold a gRPC code 0..16"));
  }
  if (code == 0) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(code), "asked to fail");
}

absl::Duration WaitOf(const EchoRequest& request) {
  if (!request.has_wait()) return absl::ZeroDuration();
  absl::Duration wait = absl::Seconds(request.wait().seconds()) +
                        absl::Nanoseconds(request.wait().nanos());
  return std::max(wait, absl::ZeroDuration());
}

// When a wait that starts now ends: no later than the call's deadline (the
// call is cancelled then anyway).
absl::Time WaitEnd(grpc::CallbackServerContext* context, absl::Duration wait) {
  absl::Time end = absl::Now() + wait;
  absl::Time deadline = absl::FromChrono(context->deadline());
  return std::min(end, deadline);
}

// Echo: waits (maybe), then answers. Finishes exactly once: either from the
// alarm's callback, which runs once whether the alarm fires or is
// cancelled, or at once when there is nothing to wait for.
class EchoReactor final : public grpc::ServerUnaryReactor {
 public:
  EchoReactor(grpc::CallbackServerContext* context, const EchoRequest* request,
              EchoRequest* response)
      : context_(context), request_(request), response_(response) {
    EchoMetadata(context_);
    absl::Duration wait = WaitOf(*request_);
    if (wait <= absl::ZeroDuration()) {
      Answer();
      return;
    }
    alarm_.Set(absl::ToChronoTime(WaitEnd(context_, wait)),
               [this](bool fired) { OnAlarm(fired); });
  }

  void OnCancel() override { alarm_.Cancel(); }
  void OnDone() override { delete this; }

 private:
  void OnAlarm(bool fired) {
    if (!fired || context_->IsCancelled()) {
      Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while waiting"));
      return;
    }
    Answer();
  }

  void Answer() {
    grpc::Status failure = RequestedFailure(*request_);
    if (failure.ok()) *response_ = *request_;
    // Nothing of `this` is used after Finish: OnDone may delete it at once.
    Finish(failure);
  }

  grpc::CallbackServerContext* const context_;
  const EchoRequest* const request_;
  EchoRequest* const response_;
  grpc::Alarm alarm_;
};

// Stream: writes `count` messages, waiting `wait` between them, one write
// at a time. The state machine runs on the alarm's and the write's
// callbacks; each step is started only from the callback of the previous
// one. Every wait has its own Alarm: an Alarm's callback may still be
// returning when the next wait starts, so it must not be Set again.
class StreamReactor final : public grpc::ServerWriteReactor<EchoRequest> {
 public:
  StreamReactor(grpc::CallbackServerContext* context,
                const EchoRequest* request)
      : context_(context),
        request_(*request),
        count_(std::clamp(request->count(), 0, kMaxStreamMessages)),
        wait_(WaitOf(*request)) {
    EchoMetadata(context_);
    grpc::Status failure = RequestedFailure(request_);
    if (!failure.ok()) {
      Finish(failure);
      return;
    }
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (sent_ >= count_ || wait_ <= absl::ZeroDuration()) {
      Next();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        alarm_ = std::make_unique<grpc::Alarm>();
        alarm_->Set(absl::ToChronoTime(WaitEnd(context_, wait_)),
                    [this](bool fired) { OnAlarm(fired); });
        return;
      }
    }
    // Outside the lock: OnDone may delete `this` once Finish is called.
    Finish(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while waiting"));
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (alarm_ != nullptr) alarm_->Cancel();
  }

  void OnDone() override { delete this; }

 private:
  void OnAlarm(bool fired) {
    if (!fired || context_->IsCancelled()) {
      Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while waiting"));
      return;
    }
    Next();
  }

  // Writes the next message, or ends the stream.
  void Next() {
    if (sent_ >= count_) {
      if (request_.flag()) {
        Finish(grpc::Status(grpc::StatusCode::ABORTED,
                            "stream failed on purpose"));
      } else {
        Finish(grpc::Status::OK);
      }
      return;
    }
    ++sent_;
    message_ = request_;
    message_.set_id(sent_);
    StartWrite(&message_);
  }

  grpc::CallbackServerContext* const context_;
  const EchoRequest request_;
  const int count_;
  const absl::Duration wait_;
  int sent_ = 0;
  EchoRequest message_;  // the message being written
  absl::Mutex mu_;       // orders a new wait against OnCancel
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
};

// Answers with the request at once (with the metadata echo).
grpc::ServerUnaryReactor* ReturnRequest(grpc::CallbackServerContext* context,
                                        const EchoRequest* request,
                                        EchoRequest* response) {
  EchoMetadata(context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status failure = RequestedFailure(*request);
  if (failure.ok()) *response = *request;
  reactor->Finish(failure);
  return reactor;
}

class EchoServiceImpl final : public v1::EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoRequest* response) override {
    return new EchoReactor(context, request, response);
  }
  grpc::ServerUnaryReactor* ListTags(grpc::CallbackServerContext* context,
                                     const EchoRequest* request,
                                     EchoRequest* response) override {
    return ReturnRequest(context, request, response);
  }
  grpc::ServerUnaryReactor* GetInner(grpc::CallbackServerContext* context,
                                     const EchoRequest* request,
                                     EchoRequest* response) override {
    return ReturnRequest(context, request, response);
  }
  grpc::ServerWriteReactor<EchoRequest>* Stream(
      grpc::CallbackServerContext* context,
      const EchoRequest* request) override {
    return new StreamReactor(context, request);
  }
  grpc::ServerUnaryReactor* Hidden(grpc::CallbackServerContext* context,
                                   const EchoRequest* request,
                                   EchoRequest* response) override {
    return ReturnRequest(context, request, response);
  }
};

}  // namespace
}  // namespace stubmesh::testing

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves stubmesh.testing.v1.EchoService for the gateway's tests. "
      "Example:\n  echo_backend --port=0");
  absl::ParseCommandLine(argc, argv);

  stubmesh::testing::EchoServiceImpl service;
  stubmesh::server::GrpcServiceRunnerOptions options =
      stubmesh::server::GrpcServiceRunnerOptionsFromFlags("echo_backend");
  options.port = absl::GetFlag(FLAGS_port);
  absl::Status s = stubmesh::server::ServeUntilSignalled(
      options,
      {{stubmesh::testing::v1::EchoService::service_full_name(), &service}});
  if (!s.ok()) {
    absl::FPrintF(stderr, "echo_backend: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
