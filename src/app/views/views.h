// One function and one state struct per view (see imgui_demo.cpp for the pattern).
// Each function draws the body of its view into the current ImGui window.
#pragma once
#include <string>

namespace loupe::app {

struct AppState;

// Start: what Loupe is, what works in this build and what comes next.
struct StartViewState {};
void DrawStartView(AppState& app, StartViewState& state);

// Model: choosing and inspecting a model. Until the engine can load one, it says so.
struct ModelViewState {};
void DrawModelView(AppState& app, ModelViewState& state);

// System: the build, the graphics context, threads, pixel ratio and fonts, plus a text
// field to check that the font covers what people type.
struct SystemViewState {
  char sample[256] = "Xin chào! Tiếng Việt: ă â đ ê ô ơ ư ạ ả ấ ầ ẩ ẫ ậ — Ça va? Zürich, Łódź";
};
void DrawSystemView(AppState& app, SystemViewState& state);

}  // namespace loupe::app
