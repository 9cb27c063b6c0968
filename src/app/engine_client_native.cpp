// The native EngineClient: a worker thread owns the engine Session. Requests go into a
// queue; while a generation runs the thread calls Session::step() once per token and
// reads the queue between tokens, so "cancel" (or anything else) is never stuck behind a
// long generation. Events come back through a second queue that poll() drains.
//
// Natively the client also understands {"op":"load_path","path":...} (the file is read
// here and handed to the Session) and announces the bundled models it finds in assets/.
#ifndef __EMSCRIPTEN__
#include <SDL.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/version.h"
#include "engine_client.h"
#include "kernels/thread_pool.h"
#include "session/session.h"
#include "sha256.h"

namespace loupe::app {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// assets/ as main.cpp finds it: $LOUPE_ASSETS, next to the executable, the source tree.
fs::path FindAssetsDir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("LOUPE_ASSETS")) candidates.emplace_back(env);
  if (char* base = SDL_GetBasePath()) {
    candidates.emplace_back(fs::path(base) / "assets");
    SDL_free(base);
  }
  candidates.emplace_back(LOUPE_SOURCE_ASSETS_DIR);
  std::error_code ec;
  for (const fs::path& p : candidates)
    if (fs::is_directory(p / "models", ec)) return p;
  return candidates.back();
}

// Every *.gguf under assets/models, as {"name", "url" (a path here), "bytes"}.
Json BundledModels() {
  Json models = Json::array();
  const fs::path dir = FindAssetsDir() / "models";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return models;
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".gguf") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    models.push_back({{"name", fs::relative(f, dir, ec).string()},
                      {"url", f.string()},
                      {"bytes", uint64_t(fs::file_size(f, ec))}});
  }
  return models;
}

class NativeEngineClient final : public EngineClient {
 public:
  NativeEngineClient() : thread_([this] { Run(); }) {}

  ~NativeEngineClient() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void send(const Json& request, std::vector<uint8_t> bytes) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back({request, std::move(bytes)});
    }
    wake_.notify_all();
  }

  std::vector<Json> poll() override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Json> events;
    events.swap(events_);
    return events;
  }

 private:
  struct Request {
    Json json;
    std::vector<uint8_t> bytes;
  };

  void Emit(std::vector<Json> events, const Json& request_id) {
    if (events.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    for (Json& e : events) {
      if (!request_id.is_null()) e["request_id"] = request_id;
      events_.push_back(std::move(e));
    }
  }

  // A Hugging Face folder: its JSON and safetensors files, one after another in one buffer
  // as the session takes them (the browser sends a dropped set of files the same way).
  std::vector<Json> LoadFolder(const std::string& path, const Json& id) {
    std::vector<uint8_t> bytes;
    Json files = Json::array();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const std::string name = entry.path().filename().string();
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".json" && ext != ".safetensors")) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<uint8_t> content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      bytes.insert(bytes.end(), content.begin(), content.end());
      files.push_back({{"name", name}, {"bytes", content.size()}});
    }
    if (files.empty())
      return {{{"event", "error"}, {"op", "load"},
               {"message", "'" + path + "' holds no model: a folder needs config.json, tokenizer.json and *.safetensors"}}};
    Emit({{{"event", "loading"}, {"name", fs::path(path).filename().string()}, {"bytes", uint64_t(bytes.size())}}}, id);
    const std::string sha = Sha256Hex(bytes.data(), bytes.size());
    std::vector<Json> events = session_.handle({{"op", "load"}, {"name", path}, {"files", files}}, std::move(bytes));
    for (Json& e : events)
      if (e.value("event", "") == "loaded") e["card"]["sha256"] = sha;
    return events;
  }

  // A model file from disk: read, fingerprinted, handed over without another copy.
  std::vector<Json> LoadPath(const Json& request) {
    const std::string path = request.value("path", "");
    std::ifstream in(path, std::ios::binary);
    if (path.empty() || !in) {
      return {{{"event", "error"}, {"op", "load"}, {"message", "cannot open '" + path + "'"}}};
    }
    std::error_code ec;
    if (fs::is_directory(path, ec)) return LoadFolder(path, request.value("id", Json()));
    Emit({{{"event", "loading"}, {"name", fs::path(path).filename().string()}, {"bytes", uint64_t(fs::file_size(path, ec))}}},
         request.value("id", Json()));
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string sha = Sha256Hex(bytes.data(), bytes.size());
    std::vector<Json> events = session_.handle({{"op", "load"}, {"name", path}}, std::move(bytes));
    for (Json& e : events)
      if (e.value("event", "") == "loaded") e["card"]["sha256"] = sha;
    return events;
  }

  std::vector<Json> Handle(Request& r) {
    const std::string op = r.json.value("op", "");
    if (op == "load_path") return LoadPath(r.json);
    if (op == "load" && !r.bytes.empty()) {
      const std::string sha = Sha256Hex(r.bytes.data(), r.bytes.size());
      std::vector<Json> events = session_.handle(r.json, std::move(r.bytes));
      for (Json& e : events)
        if (e.value("event", "") == "loaded") e["card"]["sha256"] = sha;
      return events;
    }
    if (op == "load_url" || op == "cache_list" || op == "cache_delete" || op == "pick_file" ||
        op == "cancel_download") {
      return {{{"event", "error"}, {"op", op},
               {"message", "the desktop app opens model files from disk (drop one on the window, or "
                           "loupe --model FILE); URLs and the model cache are in the web build"}}};
    }
    if (op == "bundled") return {{{"event", "bundled"}, {"models", BundledModels()}}};
    return session_.handle(r.json, std::move(r.bytes));
  }

  void Run() {
    set_thread_count(default_thread_count());
    Emit({{{"event", "ready"}, {"threads", default_thread_count()}, {"threaded", true}, {"version", kVersion}},
          {{"event", "bundled"}, {"models", BundledModels()}}},
         Json());
    Json generation_id;
    for (;;) {
      Request request;
      bool have_request = false;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !requests_.empty() || session_.busy(); });
        if (stopping_) break;
        if (!requests_.empty()) {
          request = std::move(requests_.front());
          requests_.pop_front();
          have_request = true;
        }
      }
      if (have_request) {
        const Json id = request.json.value("id", Json());
        const std::string op = request.json.value("op", "");
        const bool was_busy = session_.busy();
        std::vector<Json> events = Handle(request);
        // A cancel ends the running generation or training: its last event belongs to that request.
        Emit(std::move(events), op == "cancel" && was_busy ? generation_id : id);
        if ((op == "generate" || op == "train") && session_.busy()) generation_id = id;
      } else {
        Emit(session_.step(), generation_id);
      }
    }
    if (session_.busy()) session_.handle({{"op", "cancel"}});
  }

  Session session_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request> requests_;
  std::vector<Json> events_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace

std::unique_ptr<EngineClient> make_engine_client() { return std::make_unique<NativeEngineClient>(); }

}  // namespace loupe::app
#endif  // !__EMSCRIPTEN__
