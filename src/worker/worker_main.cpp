// loupe-engine-worker: the engine alone (no UI, no SDL, no GL), compiled to wasm for a
// Web Worker. web/engine-worker.js loads it, hands it requests from the page, and while
// a generation runs calls loupe_worker_step() once per task, so a "cancel" that arrives
// between tokens is handled before the next one. The page never blocks on the engine.
//
// Every function that returns events returns a JSON array as a malloc'd UTF-8 string;
// the caller frees it with free(). Model bytes are written straight into a buffer the
// engine then owns (loupe_worker_buffer), so a model is copied into the heap only once.
#include <emscripten.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/version.h"
#include "kernels/thread_pool.h"
#include "session/session.h"

namespace {

loupe::Session& session() {
  static loupe::Session* s = new loupe::Session;  // lives as long as the worker
  return *s;
}

std::vector<uint8_t>& pending_bytes() {
  static std::vector<uint8_t> bytes;
  return bytes;
}

char* to_c_string(const std::vector<nlohmann::json>& events) {
  const std::string text = nlohmann::json(events).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) return nullptr;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

}  // namespace

extern "C" {

// The engine's version (static storage).
EMSCRIPTEN_KEEPALIVE const char* loupe_worker_version() { return loupe::kVersion; }

// 1 in the pthread build (loupe-engine-worker-mt.js), 0 otherwise.
EMSCRIPTEN_KEEPALIVE int loupe_worker_threaded() {
#ifdef __EMSCRIPTEN_PTHREADS__
  return 1;
#else
  return 0;
#endif
}

// Sets the threads the kernels use (1 in the single-thread build whatever is asked);
// returns the count in use.
EMSCRIPTEN_KEEPALIVE int loupe_worker_set_threads(int n) {
  if (!loupe_worker_threaded()) n = 1;
  if (n < 1) n = loupe::default_thread_count();
  loupe::set_thread_count(n);
  return n;
}

// A buffer of `size` bytes for the next "load" request; null when the heap cannot grow
// that far. The next loupe_worker_handle() hands it to the engine without copying.
EMSCRIPTEN_KEEPALIVE uint8_t* loupe_worker_buffer(double size) {
  std::vector<uint8_t>& bytes = pending_bytes();
  std::vector<uint8_t>().swap(bytes);
  try {
    bytes.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    std::vector<uint8_t>().swap(bytes);
    return nullptr;
  } catch (const std::length_error&) {
    return nullptr;
  }
  return bytes.data();
}

// Handles one request (JSON text); returns its events.
EMSCRIPTEN_KEEPALIVE char* loupe_worker_handle(const char* request_json) {
  std::vector<nlohmann::json> events;
  nlohmann::json request = nlohmann::json::parse(request_json, nullptr, false);
  if (request.is_discarded()) {
    events.push_back({{"event", "error"}, {"op", ""}, {"message", "malformed request: not JSON"}});
  } else {
    std::vector<uint8_t> bytes = std::move(pending_bytes());
    pending_bytes() = {};
    events = session().handle(request, std::move(bytes));
  }
  return to_c_string(events);
}

// Advances a running generation by one token; returns its events ("[]" when idle).
EMSCRIPTEN_KEEPALIVE char* loupe_worker_step() { return to_c_string(session().step()); }

// 1 while a generation runs.
EMSCRIPTEN_KEEPALIVE int loupe_worker_busy() { return session().busy() ? 1 : 0; }

}  // extern "C"

// The module has no main(): the worker's JavaScript drives it.
