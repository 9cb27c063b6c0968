// The web EngineClient: a bridge to web/engine.js, which owns the Web Worker running the
// engine-only wasm (web/engine-worker.js + loupe-engine-worker[-mt].js). send() hands
// the request to the page with one JS call; poll() takes, once per frame, every event
// the page queued for the app (engine events, download progress, cached models), as one
// JSON array. window.loupe talks to the same worker, so the app sees its work too.
#ifdef __EMSCRIPTEN__
#include <emscripten.h>

#include <cstdlib>

#include "engine_client.h"

// EM_JS bodies refer to the page's objects by name.
#pragma clang diagnostic ignored "-Wdollar-in-identifier-extension"

EM_JS(void, loupe_js_send, (const char* json), {
  var engine = window.loupeEngine;
  if (engine) engine.fromApp(UTF8ToString(json));
});

EM_JS(char*, loupe_js_take_events, (), {
  var engine = window.loupeEngine;
  var text = engine ? engine.takeAppEvents() : null;
  if (!text) return 0;
  var n = lengthBytesUTF8(text) + 1;
  var p = _malloc(n);
  if (!p) return 0;
  stringToUTF8(text, p, n);
  return p;
});

namespace loupe::app {

namespace {

class WebEngineClient final : public EngineClient {
 public:
  void send(const nlohmann::json& request, std::vector<uint8_t> /*bytes*/) override {
    // Model bytes live in the page (fetch, file picker, drop) and go straight to the
    // worker; the app only names them.
    loupe_js_send(request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }

  std::vector<nlohmann::json> poll() override {
    char* text = loupe_js_take_events();
    if (!text) return {};
    nlohmann::json events = nlohmann::json::parse(text, nullptr, false);
    std::free(text);
    if (!events.is_array()) return {};
    return events.get<std::vector<nlohmann::json>>();
  }
};

}  // namespace

std::unique_ptr<EngineClient> make_engine_client() { return std::make_unique<WebEngineClient>(); }

}  // namespace loupe::app
#endif  // __EMSCRIPTEN__
