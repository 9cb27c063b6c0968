// loupe: the app's platform half. Opens an SDL2 window with OpenGL 3.3 core (natively)
// or WebGL2 (in the browser), runs the frame loop, and hands each frame to
// DrawWorkspace (app.h). Everything that is drawn lives in loupe_app_core.
//
//   loupe [--model FILE] [--prompt TEXT] [--frames N] [--view NAME] [--theme dark|light]
//     --model FILE  open this GGUF file at start (or drop one on the window later)
//     --prompt TEXT put this prompt in the Generate view (opened when a model is given)
//     --frames N    quit after N frames (smoke tests, screenshots)
//     --link URL    open the state a share link holds (its #v=1&... fragment)
#include <SDL.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "app.h"
#include "core/memory.h"
#include "gl.h"
#include "imgui.h"
#include "imgui_impl_opengl3.h"
#include "imgui_impl_sdl.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
// EM_ASM refers to its arguments as $0, $1...
#pragma clang diagnostic ignored "-Wdollar-in-identifier-extension"
#endif

namespace {

using namespace loupe::app;

struct Main {
  SDL_Window* window = nullptr;
  SDL_GLContext gl = nullptr;
  AppState app;
  std::string font_path;
  long frame = 0;
  long max_frames = -1;  // -1: run until the window closes
  bool done = false;
  std::vector<SDL_Event> next_frame_keys;  // key releases held back a frame (Frame())
};

// Hands one key event to ImGui, with the modifiers the event itself carries: the SDL
// backend reads SDL_GetModState(), which is already the state after every queued event.
void ProcessKey(const SDL_Event& event) {
  SDL_Event copy = event;
  ImGui_ImplSDL2_ProcessEvent(&copy);
  ImGuiIO& io = ImGui::GetIO();
  const Uint16 mod = event.key.keysym.mod;
  io.KeyShift = (mod & KMOD_SHIFT) != 0;
  io.KeyCtrl = (mod & KMOD_CTRL) != 0;
  io.KeyAlt = (mod & KMOD_ALT) != 0;
  io.KeySuper = (mod & KMOD_GUI) != 0;
}

// Tells the page (web/index.html) something happened; a no-op natively.
void NotifyPage(const char* event, const char* message) {
#ifdef __EMSCRIPTEN__
  EM_ASM({
    var handler = Module['loupeEvent'];
    if (handler) handler(UTF8ToString($0), UTF8ToString($1));
  }, event, message);
#else
  (void)event;
  (void)message;
#endif
}

[[noreturn]] void Fail(const char* what) {
  std::string message = std::string(what) + ": " + SDL_GetError();
  std::fprintf(stderr, "loupe: %s\n", message.c_str());
  NotifyPage("fatal", message.c_str());
  std::exit(1);
}

std::string FindFont() {
  const char* relative = "fonts/NotoSans-Regular.ttf";
#ifdef __EMSCRIPTEN__
  return std::string("/assets/") + relative;  // preloaded into the in-memory file system
#else
  std::string candidates[3];
  if (const char* env = std::getenv("LOUPE_ASSETS")) candidates[0] = std::string(env) + "/" + relative;
  if (char* base = SDL_GetBasePath()) {
    candidates[1] = std::string(base) + "assets/" + relative;
    SDL_free(base);
  }
  candidates[2] = std::string(LOUPE_SOURCE_ASSETS_DIR) + "/" + relative;
  for (const std::string& path : candidates) {
    if (std::FILE* f = path.empty() ? nullptr : std::fopen(path.c_str(), "rb")) {
      std::fclose(f);
      return path;
    }
  }
  return candidates[2];  // LoadFonts reports it missing
#endif
}

// Device pixels per UI pixel: SDL's drawable size over its window size (on the web SDL
// sizes the canvas to CSS size x devicePixelRatio because of SDL_WINDOW_ALLOW_HIGHDPI).
float PixelRatio(SDL_Window* window) {
  int w = 0, h = 0, dw = 0, dh = 0;
  SDL_GetWindowSize(window, &w, &h);
  SDL_GL_GetDrawableSize(window, &dw, &dh);
  return w > 0 && dw > 0 ? static_cast<float>(dw) / static_cast<float>(w) : 1.0f;
}

void ApplyThemeAndFonts(Main& m) {
  const float ratio = PixelRatio(m.window);
  if (ratio != m.app.fonts.pixel_ratio) {
    LoadFonts(m.app.fonts, m.font_path, ratio);
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }
  if (m.app.theme_changed) {
    ApplyTheme(m.app.theme);
    m.app.theme_changed = false;
  }
}

void Frame(Main& m) {
  // ImGui 1.86 samples key state once a frame, so a key pressed and released between two
  // frames (a quick tap while frames are slow, as with software WebGL) would be lost: a
  // release that comes in the same frame as its press waits for the next frame, and so
  // does every key event after it (Ctrl released after the 3 of Ctrl+3, say).
  std::vector<SDL_Event> held = std::move(m.next_frame_keys);
  m.next_frame_keys.clear();
  for (const SDL_Event& e : held) ProcessKey(e);
  std::vector<bool> pressed_now(SDL_NUM_SCANCODES, false);
  bool holding = false;
  SDL_Event event;
  while (SDL_PollEvent(&event)) {
    if (event.type == SDL_KEYDOWN || event.type == SDL_KEYUP) {
      const int code = event.key.keysym.scancode;
      if (code < 0 || code >= SDL_NUM_SCANCODES) continue;
      if (event.type == SDL_KEYUP && pressed_now[size_t(code)]) holding = true;
      if (holding) {
        m.next_frame_keys.push_back(event);
      } else {
        if (event.type == SDL_KEYDOWN) pressed_now[size_t(code)] = true;
        ProcessKey(event);
      }
      continue;
    }
    ImGui_ImplSDL2_ProcessEvent(&event);
    if (event.type == SDL_QUIT) m.done = true;
    if (event.type == SDL_DROPFILE && event.drop.file) {  // a model file dropped on the window
      OpenModel(m.app, event.drop.file);
      SDL_free(event.drop.file);
      m.app.view = ViewId::kModel;
    }
    if (event.type == SDL_WINDOWEVENT && event.window.event == SDL_WINDOWEVENT_CLOSE &&
        event.window.windowID == SDL_GetWindowID(m.window)) {
      m.done = true;
    }
  }
  ApplyThemeAndFonts(m);

  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplSDL2_NewFrame();
  ImGui::NewFrame();
  DrawWorkspace(m.app);
  ImGui::Render();

  int width = 0, height = 0;
  SDL_GL_GetDrawableSize(m.window, &width, &height);
  glViewport(0, 0, width, height);
  const float* bg = ThemePalette(m.app.theme).background;
  glClearColor(bg[0], bg[1], bg[2], bg[3]);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  CaptureCharts(m.app, width, height, ImGui::GetIO().DisplayFramebufferScale.x);  // "PNG" buttons
  SDL_GL_SwapWindow(m.window);

  if (++m.frame == 1) NotifyPage("first-frame", "");
  if (m.max_frames >= 0 && m.frame >= m.max_frames) m.done = true;
}

void ParseArguments(Main& m, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (!std::strcmp(arg, "--frames")) {
      m.max_frames = std::atol(value), ++i;
    } else if (!std::strcmp(arg, "--theme")) {
      m.app.theme = !std::strcmp(value, "light") ? Theme::kLight : Theme::kDark, ++i;
    } else if (!std::strcmp(arg, "--model")) {
      m.app.engine.startup_model = value, ++i;
      m.app.view = ViewId::kGenerate;
    } else if (!std::strcmp(arg, "--prompt")) {
      std::snprintf(m.app.generate.prompt, sizeof m.app.generate.prompt, "%s", value), ++i;
    } else if (!std::strcmp(arg, "--link")) {  // a share link's fragment: '#v=1&view=attention&...'
      const char* hash = std::strchr(value, '#');
      m.app.startup_link = hash ? hash : value, ++i;
    } else if (!std::strcmp(arg, "--view")) {
      for (const ViewInfo& view : Views()) {
        if (!SDL_strcasecmp(view.name, value)) m.app.view = view.id;
      }
      ++i;
    } else {
      std::fprintf(stderr, "usage: loupe [--model FILE] [--prompt TEXT] [--frames N] [--view start|model|generate|tokens|system] [--theme dark|light]\n");
      std::exit(arg[0] == '-' && arg[1] == 'h' ? 0 : 2);
    }
  }
}

std::string GlString(GLenum name) {
  const GLubyte* s = glGetString(name);
  return s ? reinterpret_cast<const char*>(s) : "";
}

}  // namespace

int main(int argc, char** argv) {
  loupe::keep_freed_memory();  // repeated explanations reuse their buffers instead of faulting them in
  Main& m = *new Main;  // lives as long as the page: the web's main loop outlives main()
  ParseArguments(m, argc, argv);

  if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_TIMER) != 0) Fail("SDL_Init failed");
#ifdef __EMSCRIPTEN__
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_ES);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 0);
  m.app.platform.platform = "Web (WebAssembly)";
  m.app.platform.web = true;
  // Follow the reader's colour scheme on first load.
  const bool prefers_light = EM_ASM_INT({
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: light)').matches ? 1 : 0;
  });
  if (prefers_light) m.app.theme = Theme::kLight;
#else
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, SDL_GL_CONTEXT_FORWARD_COMPATIBLE_FLAG);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
  m.app.platform.platform = std::string("Native (") + SDL_GetPlatform() + ")";
#endif
  SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
  SDL_GL_SetAttribute(SDL_GL_DEPTH_SIZE, 0);
  SDL_GL_SetAttribute(SDL_GL_STENCIL_SIZE, 8);

  const auto flags = static_cast<SDL_WindowFlags>(SDL_WINDOW_OPENGL | SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
  m.window = SDL_CreateWindow("Loupe", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, 1280, 800, flags);
  if (!m.window) Fail("could not open a window");
  m.gl = SDL_GL_CreateContext(m.window);
  if (!m.gl) Fail("could not create an OpenGL context (WebGL2 natively: OpenGL 3.3)");
  SDL_GL_MakeCurrent(m.window, m.gl);
  SDL_GL_SetSwapInterval(1);

  SDL_version sdl;
  SDL_GetVersion(&sdl);
  m.app.platform.sdl_version = std::to_string(sdl.major) + "." + std::to_string(sdl.minor) + "." + std::to_string(sdl.patch);
  m.app.platform.gl_version = GlString(GL_VERSION);
  m.app.platform.gl_renderer = GlString(GL_RENDERER);
  m.app.platform.glsl_version = GlString(GL_SHADING_LANGUAGE_VERSION);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;
  ImGui_ImplSDL2_InitForOpenGL(m.window, m.gl);
  if (!ImGui_ImplOpenGL3_Init(kGlslVersion)) Fail("could not initialise ImGui's OpenGL renderer");
  m.font_path = FindFont();
  m.app.theme_changed = true;

#ifdef __EMSCRIPTEN__
  // The browser calls Frame once per display refresh; main returns into the event loop.
  emscripten_set_main_loop_arg([](void* arg) { Frame(*static_cast<Main*>(arg)); }, &m, 0, false);
  return 0;
#else
  while (!m.done) Frame(m);
  if (!m.app.fonts.error.empty()) std::fprintf(stderr, "loupe: font: %s\n", m.app.fonts.error.c_str());
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplSDL2_Shutdown();
  ImGui::DestroyContext();
  SDL_GL_DeleteContext(m.gl);
  SDL_DestroyWindow(m.window);
  SDL_Quit();
  delete &m;
  return 0;
#endif
}
