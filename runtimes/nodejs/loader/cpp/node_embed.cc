// Node's embedder API for the loader: one Node instance on the calling thread.
//
// Process flags keep Node's hands off what belongs to nginx: no signal handlers of its own and
// no reset of nginx's (kNoDefaultSignalHandling), no touching fds 0-2 (kNoStdioInitialization),
// no rlimit changes, no large pages. The Environment owns no inspector, so Node never listens
// for SIGUSR1 (nginx's "reopen logs").

#include "node_embed.h"

#include <node.h>

#include <exception>
#include <string>
#include <vector>

namespace {

void Report(resty_node_report_fn report, int level, const std::string& msg) {
  report(level, msg.data(), msg.size());
}

constexpr int kErr = 4;

node::ProcessInitializationFlags::Flags ProcessFlags() {
  using F = node::ProcessInitializationFlags::Flags;
  namespace P = node::ProcessInitializationFlags;
  return static_cast<F>(P::kNoDefaultSignalHandling | P::kNoStdioInitialization |
                        P::kNoAdjustResourceLimits | P::kNoUseLargePages |
                        P::kNoPrintHelpOrVersionOutput);
}

node::EnvironmentFlags::Flags EnvironmentFlags() {
  using F = node::EnvironmentFlags::Flags;
  namespace E = node::EnvironmentFlags;
  // Not kDefaultFlags: that includes kOwnsInspector (a SIGUSR1 handler).
  return static_cast<F>(E::kOwnsProcessState | E::kNoCreateInspector);
}

int Run(const char* bootstrap, const char* name, resty_node_binding_init_fn binding_init,
        resty_node_report_fn report) {
  // argv[0] only: options come from NODE_OPTIONS (pass it with nginx's `env NODE_OPTIONS;`).
  std::vector<std::string> args = {"nginx"};
  std::unique_ptr<node::InitializationResult> init =
      node::InitializeOncePerProcess(args, ProcessFlags());
  for (const std::string& e : init->errors()) Report(report, kErr, "node: " + e);
  if (init->early_return()) {
    Report(report, kErr, "node: initialization failed with exit code " +
                             std::to_string(init->exit_code()));
    return 1;
  }

  std::vector<std::string> errors;
  std::unique_ptr<node::CommonEnvironmentSetup> setup = node::CommonEnvironmentSetup::Create(
      init->platform(), &errors, init->args(), init->exec_args(), EnvironmentFlags());
  if (!setup) {
    for (const std::string& e : errors) Report(report, kErr, "node: " + e);
    if (errors.empty()) Report(report, kErr, "node: cannot create an environment");
    return 1;
  }

  node::Environment* env = setup->env();
  v8::Isolate* isolate = setup->isolate();
  node::AddLinkedBinding(env, name,
                         reinterpret_cast<napi_addon_register_func>(binding_init));
  // The default handler exits the process: the nginx worker. Runtimes never end it.
  node::SetProcessExitHandler(env, [report](node::Environment*, int code) {
    Report(report, kErr,
           "node: the process was asked to exit (code " + std::to_string(code) +
               "): ignored, the nginx worker goes on");
  });

  v8::Locker locker(isolate);
  v8::Isolate::Scope isolate_scope(isolate);
  v8::HandleScope handle_scope(isolate);
  v8::Context::Scope context_scope(setup->context());

  v8::TryCatch try_catch(isolate);
  if (node::LoadEnvironment(env, bootstrap).IsEmpty()) {
    std::string why = "node: the loader's bootstrap script failed";
    if (try_catch.HasCaught()) {
      v8::String::Utf8Value text(isolate, try_catch.Exception());
      if (*text != nullptr) why += std::string(": ") + *text;
    }
    Report(report, kErr, why);
    return 1;
  }
  node::SpinEventLoop(env).FromMaybe(1);
  return 0;
}

}  // namespace

extern "C" int resty_node_run(const char* bootstrap, const char* name,
                              resty_node_binding_init_fn binding_init,
                              resty_node_report_fn report) {
  try {
    return Run(bootstrap, name, binding_init, report);
  } catch (const std::exception& e) {
    Report(report, kErr, std::string("node: C++ exception: ") + e.what());
  } catch (...) {
    Report(report, kErr, "node: unknown C++ exception");
  }
  return 1;
}
