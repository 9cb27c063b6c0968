// Share links applied to the app: the current state as a link ("Copy link"), and a link's
// state restored on start (app.h). The encoding itself is share_link.cpp.
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "app.h"
#include "share_link.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

// Strings handed to C++ are malloc'ed here and freed by the caller.
EM_JS(char*, loupe_location_hash, (), {
  var s = String(location.hash || '');
  var n = lengthBytesUTF8(s) + 1, p = _malloc(n);
  stringToUTF8(s, p, n);
  return p;
});
EM_JS(char*, loupe_location_base, (), {
  var s = String(location.origin + location.pathname + location.search);
  var n = lengthBytesUTF8(s) + 1, p = _malloc(n);
  stringToUTF8(s, p, n);
  return p;
});
#endif

namespace loupe::app {

namespace {

std::string LinkName(const char* view_name) {
  std::string s;
  for (const char* c = view_name; *c; ++c) s += *c == ' ' ? '-' : char(std::tolower(static_cast<unsigned char>(*c)));
  return s;
}

void CopyText(char* dest, size_t size, const std::string& text) {
  const size_t n = std::min(size - 1, text.size());
  std::copy_n(text.data(), n, dest);
  dest[n] = '\0';
}

}  // namespace

ShareState CurrentShareState(const AppState& app) {
  ShareState s;
  for (const ViewInfo& v : Views())
    if (v.id == app.view) s.view = LinkName(v.name);
  s.model = app.link.model;
  if (app.engine.card.is_object()) {
    const std::string name = app.engine.card.value("name", std::string());
    for (const ModelEntry& m : app.engine.bundled)
      if (m.name == name) s.model = m.name;
    if (s.model.empty()) s.model = name;
  }
  const bool explaining = app.view == ViewId::kAttention || app.view == ViewId::kLens || app.view == ViewId::kAttribution;
  s.prompt = explaining ? std::string(app.explain.prompt) : std::string(app.generate.prompt);
  const GenerateViewState& g = app.generate;
  s.seed = uint64_t(std::max(0, g.seed));
  s.temperature = g.temperature;
  s.top_k = g.top_k;
  s.top_p = g.top_p;
  s.min_p = g.min_p;
  s.repeat_penalty = g.repeat_penalty;
  s.max_tokens = g.max_tokens;
  const AttentionViewState& a = app.explain.attention;
  s.layer = a.layer;
  s.head = a.head;
  if (a.query >= 0) s.token = a.query;
  static const char* const kMethods[] = {"grad_x_input", "integrated_gradients", "occlusion"};
  s.method = kMethods[std::clamp(app.explain.attribution.method, 0, 2)];
  return s;
}

std::string CurrentShareLink(const AppState& app) {
  std::string base;
#ifdef __EMSCRIPTEN__
  char* b = loupe_location_base();
  base = b;
  free(b);
#endif
  return base + "#" + EncodeShareFragment(CurrentShareState(app));
}

void ApplyShareState(AppState& app, const ShareState& s) {
  for (const ViewInfo& v : Views())
    if (LinkName(v.name) == s.view) app.view = v.id;
  if (!s.prompt.empty()) {
    CopyText(app.explain.prompt, sizeof app.explain.prompt, s.prompt);
    CopyText(app.generate.prompt, sizeof app.generate.prompt, s.prompt);
  }
  GenerateViewState& g = app.generate;
  if (s.seed) g.seed = int(std::min<uint64_t>(*s.seed, 0x7fffffff));
  if (s.temperature) g.temperature = float(*s.temperature);
  if (s.top_k) g.top_k = *s.top_k;
  if (s.top_p) g.top_p = float(*s.top_p);
  if (s.min_p) g.min_p = float(*s.min_p);
  if (s.repeat_penalty) g.repeat_penalty = float(*s.repeat_penalty);
  if (s.max_tokens) g.max_tokens = *s.max_tokens;
  if (s.layer) app.explain.attention.layer = *s.layer;
  if (s.head) app.explain.attention.head = *s.head;
  if (s.token) app.explain.attention.query = app.explain.lens.position = *s.token;
  for (int i = 0; i < 3; ++i) {
    static const char* const kMethods[] = {"grad_x_input", "integrated_gradients", "occlusion"};
    if (s.method == kMethods[i]) app.explain.attribution.method = i;
  }
  app.link = s;
  app.link_model_pending = !s.model.empty();
}

#ifdef __EMSCRIPTEN__
namespace {
AppState* g_app = nullptr;  // for the page's test hooks below
std::string g_text;
}  // namespace
#endif

void CheckShareLink(AppState& app) {
#ifdef __EMSCRIPTEN__
  g_app = &app;
#endif
  if (!app.link_checked) {
    app.link_checked = true;
    std::string fragment = app.startup_link;
#ifdef __EMSCRIPTEN__
    if (fragment.empty()) {
      char* h = loupe_location_hash();
      fragment = h;
      free(h);
    }
#endif
    const ShareDecode decoded = DecodeShareFragment(fragment);
    if (decoded.ok) {
      ApplyShareState(app, decoded.state);
      app.link_message = "Opened from a shared link.";
    } else if (!decoded.empty) {
      app.link_message = decoded.error + " Loupe started as usual instead.";
      app.link_error = true;
    }
  }
  // A bundled model named by the link opens once the engine lists its bundled models; a
  // URL waits for the reader's consent (the banner's Open button).
  if (app.link_model_pending && app.engine.ready && !app.engine.loading) {
    const std::string& want = app.link.model;
    for (const ModelEntry& m : app.engine.bundled) {
      if (m.name == want || m.url == want) {
        app.link_model_pending = false;
        if (!app.engine.card.is_object() || app.engine.card.value("name", std::string()) != m.name) OpenModel(app, m.url);
        return;
      }
    }
  }
}

}  // namespace loupe::app

#ifdef __EMSCRIPTEN__
// Hooks for the browser tests (tests/browser/run.mjs), through Module._loupe_*: the link
// the app would copy now, what the start-up link did, and the explain request.
extern "C" {
EMSCRIPTEN_KEEPALIVE const char* loupe_current_link() {
  using namespace loupe::app;
  g_text = g_app ? CurrentShareLink(*g_app) : "";
  return g_text.c_str();
}
EMSCRIPTEN_KEEPALIVE const char* loupe_link_message() {
  using namespace loupe::app;
  g_text = g_app ? g_app->link_message : "";
  return g_text.c_str();
}
EMSCRIPTEN_KEEPALIVE void loupe_request_explanation() {
  using namespace loupe::app;
  if (g_app) loupe::app::RequestExplanation(*g_app);
}
// 1: a result is shown, 0: waiting or nothing asked, -1: the last request failed.
EMSCRIPTEN_KEEPALIVE int loupe_explain_state() {
  using namespace loupe::app;
  if (!g_app) return 0;
  if (!g_app->explain.error.empty()) return -1;
  return g_app->explain.result && g_app->explain.request < 0 ? 1 : 0;
}
// The lazy logit lens as JSON: {n, held: [positions known], columns: the Logit-lens
// view's width in columns, pending: a lens request in flight}.
EMSCRIPTEN_KEEPALIVE const char* loupe_lens_state() {
  using namespace loupe::app;
  nlohmann::json j = {{"n", 0}, {"held", nlohmann::json::array()}, {"columns", 0}, {"pending", false}};
  if (g_app && g_app->explain.result) {
    const ExplainResult& r = *g_app->explain.result;
    j["n"] = r.n();
    for (int p = 0; p < r.n(); ++p)
      if (r.LensHeld(p)) j["held"].push_back(p);
    j["columns"] = g_app->explain.lens.columns;
    j["pending"] = g_app->explain.lens.request >= 0;
  }
  g_text = j.dump();
  return g_text.c_str();
}
// The status line as drawn now (which engine build and threads, the model).
EMSCRIPTEN_KEEPALIVE const char* loupe_status_line() {
  using namespace loupe::app;
  g_text = g_app ? StatusLine(*g_app) : "";
  return g_text.c_str();
}
// The view shown now, by its navigation name (keyboard shortcut tests).
EMSCRIPTEN_KEEPALIVE const char* loupe_current_view() {
  using namespace loupe::app;
  g_text.clear();
  if (g_app)
    for (const ViewInfo& v : Views())
      if (v.id == g_app->view) g_text = v.name;
  return g_text.c_str();
}
}
#endif
