// Attention, Logit lens and Attribution: what the model attended to, how its guess formed
// layer by layer, and which input tokens drove an output. All three draw one
// ExplainResult (explain_result.h), asked for with one explain request.
#include "views/explain_views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app.h"
#include "chart_data.h"
#include "colormap.h"
#include "export.h"
#include "heatmap.h"
#include "imgui.h"
#include "share_link.h"
#include "ui.h"
#include "views/chart.h"

namespace loupe::app {

using json = nlohmann::json;

namespace {

const char* const kMethods[] = {"grad_x_input", "integrated_gradients", "occlusion"};
const char* const kMethodNames[] = {"Gradient \xc3\x97 input", "Integrated gradients", "Occlusion"};

ImTextureID TextureId(unsigned texture) { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(texture)); }

std::string Format(const char* format, ...) IM_FMTARGS(1);
std::string Format(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

std::string Quoted(const std::string& token) { return "\xe2\x80\x9c" + DisplayToken(token) + "\xe2\x80\x9d"; }

bool ModelLoaded(const AppState& app) { return app.engine.card.is_object(); }

bool FocusAvailable(const AppState& app) {
  return app.focus_token >= 0 && app.focus_token < int(app.engine.tokens.size()) && app.engine.tokens[size_t(app.focus_token)].id >= 0;
}

// Where the explanation comes from, the Explain button and the request's status: the
// top of all three views.
void DrawSource(AppState& app) {
  ExplainViewsState& e = app.explain;
  CollectExplanation(app);
  const bool focus = e.use_focus && FocusAvailable(app);
  if (focus) {
    const TokenChip& t = app.engine.tokens[size_t(app.focus_token)];
    ImGui::TextWrapped("Explaining the generated token %s (number %d of the generation): the text before it is the input.",
                       Quoted(t.piece).c_str(), app.focus_token + 1);
    ImGui::Checkbox("Explain the focus token", &e.use_focus);
  } else {
    if (FocusAvailable(app)) ImGui::Checkbox("Explain the focus token from Generate", &e.use_focus);
    ImGui::SetNextItemWidth(-FLT_MIN);
    ImGui::InputTextMultiline("##explain-prompt", e.prompt, sizeof e.prompt, ImVec2(-FLT_MIN, ImGui::GetTextLineHeight() * 2.6f));
  }
  const bool busy = e.request >= 0;
  ImGui::BeginDisabled(!ModelLoaded(app) || busy || app.engine.generating);
  if (ImGui::Button(busy ? "Explaining\xe2\x80\xa6" : "Explain")) RequestExplanation(app);
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("Run the model over the text with its hooks on (Ctrl+Enter)");
  ImGui::SameLine();
  if (ImGui::Button("Copy link")) {
    const std::string link = CurrentShareLink(app);
    CopyToClipboard(link);
    app.exports.message = "Copied a link to this view (" + std::to_string(link.size()) + " characters).";
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Copies a link that opens Loupe with this model, prompt, view, layer, head and token.");
  ImGui::SameLine();
  if (!ModelLoaded(app)) {
    Notice(app, "Load a model in the Model view first; explanations are computed by the model in your browser.");
  } else if (busy) {
    ImGui::TextDisabled("The engine is running the model with its hooks on\xe2\x80\xa6");
  } else if (!e.requested.empty()) {
    ImGui::TextDisabled("%s", e.requested.c_str());
  }
  if (!e.error.empty()) Notice(app, e.error.c_str());
  if (!app.exports.message.empty()) ImGui::TextDisabled("%s", app.exports.message.c_str());
  ImGui::Separator();
  ImGui::Spacing();
}

// The matrix the heatmap shows, and what it is called.
const float* ShownMatrix(const ExplainResult& r, const AttentionViewState& s, std::string* what) {
  if (s.mode == AttentionMode::kMean && size_t(s.layer) < r.mean.size()) {
    *what = Format("mean over heads, layer %d", s.layer);
    return r.mean[size_t(s.layer)].data();
  }
  if (s.mode == AttentionMode::kRollout && size_t(s.layer) < r.rollout.size()) {
    *what = Format("rollout through layer %d", s.layer);
    return r.rollout[size_t(s.layer)].data();
  }
  *what = Format("layer %d, head %d", s.layer, s.head);
  return r.Attention(s.layer, s.head);
}

float MaxOf(const float* m, size_t count) {
  float best = 0;
  for (size_t i = 0; i < count; ++i) best = std::max(best, m[i]);
  return best > 0 ? best : 1.0f;
}

// --- Attention: the layer x head grid -----------------------------------------------------

void DrawHeadGrid(AppState& app, AttentionViewState& s, const ExplainResult& r) {
  const int layers = int(r.attention_layers.size()), heads = int(r.attention_heads.size());
  const int n = r.n();
  const int t = std::min(n, 24);  // texels per thumbnail side
  if (!s.thumbnails) s.thumbnails = std::make_shared<GlTexture>();
  if (s.thumbnails->generation != app.explain.generation) {
    const int w = heads * t, h = layers * t;
    std::vector<unsigned char> rgba(size_t(w) * h * 4, 0);
    for (int li = 0; li < layers; ++li)
      for (int hi = 0; hi < heads; ++hi) {
        const float* m = r.attention[size_t(li) * heads + hi].data();
        // Mean of each bin of the causal part; each thumbnail scaled by its own maximum.
        std::vector<float> bins(size_t(t) * t, 0.0f);
        std::vector<int> counts(size_t(t) * t, 0);
        for (int q = 0; q < n; ++q)
          for (int k = 0; k <= q; ++k) {
            const size_t b = size_t(q * t / n) * t + size_t(k * t / n);
            bins[b] += m[size_t(q) * n + k];
            counts[b]++;
          }
        float top = 0;
        for (size_t b = 0; b < bins.size(); ++b) top = std::max(top, counts[b] ? bins[b] / float(counts[b]) : 0.0f);
        for (int y = 0; y < t; ++y)
          for (int x = 0; x < t; ++x) {
            const size_t b = size_t(y) * t + x;
            const Rgb c = counts[b] ? Viridis(bins[b] / float(counts[b]) / std::max(top, 1e-6f)) : Rgb{0.5f, 0.5f, 0.5f};
            unsigned char* p = &rgba[((size_t(li) * t + y) * w + size_t(hi) * t + x) * 4];
            p[0] = (unsigned char)(c.r * 255), p[1] = (unsigned char)(c.g * 255), p[2] = (unsigned char)(c.b * 255), p[3] = 255;
          }
      }
    s.thumbnails->id = UploadRgbaTexture(s.thumbnails->id, rgba.data(), w, h);
    s.thumbnails->generation = app.explain.generation;
  }

  ImGui::TextUnformatted("Layers \xc3\x97 heads");
  ImGui::SameLine();
  HelpMarker("Each thumbnail is one head's attention pattern (queries down, keys across), scaled to its own "
             "maximum. Click one to show it large. Diagonal lines: attends to itself or the previous token; a bright "
             "first column: the 'attention sink' on the first token.");
  const float label_w = ImGui::CalcTextSize("L00").x + 6;
  const float cell = std::clamp((ImGui::GetContentRegionAvail().x - label_w) / float(std::max(1, heads)), 14.0f, 40.0f);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  // Column labels: head numbers.
  ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), muted = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  for (int hi = 0; hi < heads; ++hi) {
    const std::string label = std::to_string(r.attention_heads[size_t(hi)]);
    if (cell < 18 && hi % 2) continue;
    draw->AddText(ImVec2(origin.x + label_w + (float(hi) + 0.5f) * cell - ImGui::CalcTextSize(label.c_str()).x / 2, origin.y), muted, label.c_str());
  }
  ImGui::Dummy(ImVec2(label_w + cell * heads, ImGui::GetTextLineHeight()));
  origin = ImGui::GetCursorScreenPos();
  for (int li = 0; li < layers; ++li) {
    const std::string label = Format("L%d", r.attention_layers[size_t(li)]);
    draw->AddText(ImVec2(origin.x, origin.y + (float(li) + 0.5f) * cell - ImGui::GetTextLineHeight() / 2), muted, label.c_str());
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x + label_w, origin.y));
  const ImVec2 grid_min = ImGui::GetCursorScreenPos();
  ImGui::Image(TextureId(s.thumbnails->id), ImVec2(cell * heads, cell * layers));
  const bool hovered = ImGui::IsItemHovered();
  for (int li = 1; li < layers; ++li)
    draw->AddLine(ImVec2(grid_min.x, grid_min.y + li * cell), ImVec2(grid_min.x + heads * cell, grid_min.y + li * cell), ImGui::GetColorU32(ImGuiCol_WindowBg));
  for (int hi = 1; hi < heads; ++hi)
    draw->AddLine(ImVec2(grid_min.x + hi * cell, grid_min.y), ImVec2(grid_min.x + hi * cell, grid_min.y + layers * cell), ImGui::GetColorU32(ImGuiCol_WindowBg));
  // The selected layer (and head) outlined.
  const auto sl = std::find(r.attention_layers.begin(), r.attention_layers.end(), s.layer) - r.attention_layers.begin();
  const auto sh = std::find(r.attention_heads.begin(), r.attention_heads.end(), s.head) - r.attention_heads.begin();
  if (sl < layers) {
    if (s.mode == AttentionMode::kHead && sh < heads) {
      const ImVec2 a(grid_min.x + sh * cell, grid_min.y + sl * cell);
      draw->AddRect(a, ImVec2(a.x + cell, a.y + cell), text, 0, 0, 2.5f);
    } else {
      draw->AddRect(ImVec2(grid_min.x, grid_min.y + sl * cell), ImVec2(grid_min.x + heads * cell, grid_min.y + (sl + 1) * cell), text, 0, 0, 2.0f);
    }
  }
  if (hovered) {
    const ImVec2 mouse = ImGui::GetMousePos();
    const int hi = std::clamp(int((mouse.x - grid_min.x) / cell), 0, heads - 1);
    const int li = std::clamp(int((mouse.y - grid_min.y) / cell), 0, layers - 1);
    const int layer = r.attention_layers[size_t(li)], head = r.attention_heads[size_t(hi)];
    ImGui::BeginTooltip();
    ImGui::Text("Layer %d, head %d", layer, head);
    if (size_t(layer) * r.n_heads + head < r.heads.size()) {
      const HeadStatistics& h = r.heads[size_t(layer) * r.n_heads + head];
      ImGui::Text("entropy %.2f bits \xc2\xb7 previous token %.0f%% \xc2\xb7 first token %.0f%% \xc2\xb7 induction %.2f", h.entropy,
                  h.prev_token * 100, h.first_token * 100, h.induction);
    }
    ImGui::TextDisabled("Click to show this head large.");
    ImGui::EndTooltip();
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) {
      s.layer = layer, s.head = head;
      s.mode = AttentionMode::kHead;
    }
  }
}

// --- Attention: one matrix, large, by our shader ------------------------------------------

void DrawHeatmap(AppState& app, AttentionViewState& s, const ExplainResult& r, const float* m, const std::string& what) {
  const int n = r.n();
  if (!s.heatmap) s.heatmap = std::make_shared<HeatmapRenderer>();
  if (!s.heatmap->Init()) {
    Notice(app, ("The heatmap cannot be drawn: " + s.heatmap->error()).c_str());
    return;
  }
  s.heatmap->Upload(m, n, n, app.explain.generation * 131u + unsigned(s.layer * 1024 + s.head) * 3u + unsigned(s.mode));
  const float max_value = MaxOf(m, size_t(n) * n);

  const float label_w = 112.0f, label_h = 84.0f;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  // Fits the panel: its width, and its height less the labels, legend and buttons.
  const float side = std::max(160.0f, std::min({avail.x - label_w - 8, avail.y - label_h - 90, 640.0f}));
  // The visible window of cells: `visible` cells of n, starting at pan.
  s.zoom = std::clamp(s.zoom, 1.0f, std::max(1.0f, float(n) / 4.0f));
  const float visible = float(n) / s.zoom;
  s.pan_x = std::clamp(s.pan_x, 0.0f, float(n) - visible);
  s.pan_y = std::clamp(s.pan_y, 0.0f, float(n) - visible);
  const float cell = side / visible;

  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 plot(origin.x + label_w, origin.y + label_h);
  const float ratio = ImGui::GetIO().DisplayFramebufferScale.x;

  HeatmapRenderer::View view;
  view.x0 = s.pan_x, view.y0 = s.pan_y, view.x1 = s.pan_x + visible, view.y1 = s.pan_y + visible;
  view.max_value = max_value;
  view.highlight_col = s.key, view.highlight_row = s.query;
  const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_FrameBg];
  view.masked[0] = bg.x, view.masked[1] = bg.y, view.masked[2] = bg.z;
  const ImVec4 outline = ImGui::GetStyle().Colors[ImGuiCol_Text];
  view.outline[0] = outline.x, view.outline[1] = outline.y, view.outline[2] = outline.z;
  const unsigned texture = s.heatmap->Render(int(side * ratio + 0.5f), int(side * ratio + 0.5f), view);
  ImGui::SetCursorScreenPos(plot);
  ImGui::Image(TextureId(texture), ImVec2(side, side), ImVec2(0, 1), ImVec2(1, 0));
  const bool hovered = ImGui::IsItemHovered();

  // Axis labels: tokens. Queries on the left, keys along the top (rotated).
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), muted = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const float line = ImGui::GetTextLineHeight();
  const int first = int(std::floor(s.pan_y)), last = std::min(n - 1, int(std::ceil(s.pan_y + visible)) - 1);
  const int every = std::max(1, int(std::ceil(line / cell)));
  draw->PushClipRect(ImVec2(origin.x, plot.y), ImVec2(plot.x, plot.y + side), true);
  for (int q = first; q <= last; ++q) {
    if (q % every) continue;
    const float y = plot.y + (float(q) - s.pan_y + 0.5f) * cell - line / 2;
    const std::string label = FitText(Format("%d ", q) + DisplayToken(r.tokens[size_t(q)].text), label_w - 8);
    draw->AddText(ImVec2(plot.x - 4 - ImGui::CalcTextSize(label.c_str()).x, y), q == s.query ? text : muted, label.c_str());
  }
  draw->PopClipRect();
  const int kfirst = int(std::floor(s.pan_x)), klast = std::min(n - 1, int(std::ceil(s.pan_x + visible)) - 1);
  draw->PushClipRect(ImVec2(plot.x, origin.y), ImVec2(plot.x + side, plot.y), true);
  for (int k = kfirst; k <= klast; ++k) {
    if (k % every) continue;
    const float x = plot.x + (float(k) - s.pan_x + 0.5f) * cell - line / 2;
    const std::string label = FitText(Format("%d ", k) + DisplayToken(r.tokens[size_t(k)].text), label_h * 1.25f);
    AddTextRotated(draw, ImVec2(x, plot.y - 4), k == s.key ? text : muted, label.c_str(), -0.785398f);
  }
  draw->PopClipRect();
  // Axis titles.
  draw->AddText(ImVec2(origin.x, origin.y), muted, "keys: the");
  draw->AddText(ImVec2(origin.x, origin.y + line), muted, "tokens attended to");
  AddTextRotated(draw, ImVec2(origin.x + 2, plot.y + side), muted, "queries: the tokens attending", -1.570796f);

  if (hovered) {
    const ImVec2 mouse = ImGui::GetMousePos();
    const int k = std::clamp(int(s.pan_x + (mouse.x - plot.x) / cell), 0, n - 1);
    const int q = std::clamp(int(s.pan_y + (mouse.y - plot.y) / cell), 0, n - 1);
    ImGui::BeginTooltip();
    ImGui::Text("Query %d %s attends to key %d %s", q, Quoted(r.tokens[size_t(q)].text).c_str(), k, Quoted(r.tokens[size_t(k)].text).c_str());
    if (k > q) {
      ImGui::TextDisabled("A token cannot see the tokens after it.");
    } else {
      ImGui::Text("weight %.4f (%.1f%% of the query's attention)", m[size_t(q) * n + k], m[size_t(q) * n + k] * 100);
    }
    ImGui::TextDisabled("Click to pick; wheel to zoom; drag with the right button to pan.");
    ImGui::EndTooltip();
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) s.query = q, s.key = k;
    const float wheel = ImGui::GetIO().MouseWheel;
    if (wheel != 0) {
      // Zoom about the cell under the mouse.
      const float cx = s.pan_x + (mouse.x - plot.x) / cell, cy = s.pan_y + (mouse.y - plot.y) / cell;
      s.zoom = std::clamp(s.zoom * (wheel > 0 ? 1.25f : 0.8f), 1.0f, std::max(1.0f, float(n) / 4.0f));
      const float nv = float(n) / s.zoom;
      s.pan_x = cx - (mouse.x - plot.x) / side * nv;
      s.pan_y = cy - (mouse.y - plot.y) / side * nv;
    }
    if (ImGui::IsMouseDragging(ImGuiMouseButton_Right) || ImGui::IsMouseDragging(ImGuiMouseButton_Middle)) {
      const ImVec2 d = ImGui::GetIO().MouseDelta;
      s.pan_x -= d.x / cell;
      s.pan_y -= d.y / cell;
    }
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, plot.y + side + 6));
  ImGui::Dummy(ImVec2(label_w + side, 0));
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + label_w);
  ColorLegend("attention weight (fraction of the query's attention, 0 to 1)", max_value, std::min(side * 0.5f, 240.0f));
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + label_w);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("%s; grey: keys after the query, which it cannot see.", what.c_str());
  ImGui::PopTextWrapPos();
}

// --- Attention: arcs from one token ---------------------------------------------------------

// Weight of the arc between the chosen token `t` and token `i`: with arcs_from_query, `t`
// as the query reading key `i` (i <= t); otherwise `t` as the key read by query `i` (i >= t).
float ArcWeight(const AttentionViewState& s, const float* m, int n, int t, int i) {
  if (s.arcs_from_query) return i <= t ? m[size_t(t) * n + i] : 0.0f;
  return i >= t ? m[size_t(i) * n + t] : 0.0f;
}

void DrawArcs(AppState& app, AttentionViewState& s, const ExplainResult& r, const float* m) {
  const int n = r.n();
  // The chosen token: the picked query when reading keys, the picked key when read.
  int& chosen = s.arcs_from_query ? s.query : s.key;
  const int t = chosen >= 0 && chosen < n ? chosen : (s.arcs_from_query ? n - 1 : 0);
  ImGui::TextUnformatted("Arcs");
  ImGui::SameLine();
  HelpMarker("Reads: from the chosen token on the left to every earlier token it attends to (its keys) on the right. "
             "Read by: from the chosen token to every later token that attends to it (the queries that read it). The "
             "thicker and more opaque the arc, the larger the weight. Click a token on the left to choose it.");
  ImGui::SameLine();
  if (ImGui::RadioButton("reads", s.arcs_from_query)) s.arcs_from_query = true;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Arcs to the keys the chosen token reads (A)");
  ImGui::SameLine();
  if (ImGui::RadioButton("read by", !s.arcs_from_query)) s.arcs_from_query = false;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Arcs to the later queries that read the chosen token (A)");
  Caption(app, s.arcs_from_query
                   ? "Left: the chosen token. Right: the tokens it attends to, with the share of its attention each gets."
                   : "Left: the chosen token. Right: the later tokens that attend to it, with the share of their attention it gets.");
  const float row = ImGui::GetTextLineHeightWithSpacing();
  const float col_w = std::min(150.0f, ImGui::GetContentRegionAvail().x * 0.3f);
  const float gap = std::max(60.0f, ImGui::GetContentRegionAvail().x - 2 * col_w - 16);
  // At most what is left of the view's height (at least a few rows), so the chosen token
  // stays on screen at 768 pixels high; longer prompts scroll inside the panel.
  const float height = std::min({row * float(n) + 4, 420.0f, std::max(row * 6, ImGui::GetContentRegionAvail().y - row * 2.5f)});
  // A long prompt scrolls inside this child (wheel or scroll bar).
  ImGui::BeginChild("arcs", ImVec2(2 * col_w + gap + 8, height), false);
  // A token chosen elsewhere (heatmap, keys) scrolls into view once; the panel remembers
  // which in ImGui's per-window storage.
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID scrolled_to = ImGui::GetID("scrolled-to");
  if (storage->GetInt(scrolled_to, -1) != t) {
    ImGui::SetScrollY(std::max(0.0f, (float(t) + 0.5f) * row - height * 0.5f));
    storage->SetInt(scrolled_to, t);
  }
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), muted = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 accent = ThemePalette(app.theme).accent;
  float best = 0;
  for (int i = 0; i < n; ++i) best = std::max(best, ArcWeight(s, m, n, t, i));
  if (best <= 0) best = 1;
  for (int i = 0; i < n; ++i) {
    const float w = ArcWeight(s, m, n, t, i);
    if (w / best < 0.01f) continue;
    const ImVec2 a(origin.x + col_w + 4, origin.y + (float(t) + 0.5f) * row);
    const ImVec2 b(origin.x + col_w + gap, origin.y + (float(i) + 0.5f) * row);
    const ImVec4 c = ImGui::ColorConvertU32ToFloat4(accent);
    draw->AddBezierCubic(a, ImVec2(a.x + gap * 0.5f, a.y), ImVec2(b.x - gap * 0.5f, b.y), b,
                         ImGui::GetColorU32(ImVec4(c.x, c.y, c.z, 0.15f + 0.85f * w / best)), 0.5f + 6.0f * w / best);
  }
  for (int i = 0; i < n; ++i) {
    const std::string label = FitText(DisplayToken(r.tokens[size_t(i)].text), col_w - 4);
    const float y = origin.y + float(i) * row;
    ImGui::SetCursorScreenPos(ImVec2(origin.x + col_w - ImGui::CalcTextSize(label.c_str()).x, y));
    ImGui::PushID(i);
    if (ImGui::Selectable(label.c_str(), i == t, 0, ImGui::CalcTextSize(label.c_str()))) chosen = i;
    ImGui::PopID();
    const bool reachable = s.arcs_from_query ? i <= t : i >= t;
    const float w = ArcWeight(s, m, n, t, i);
    draw->AddText(ImVec2(origin.x + col_w + gap + 6, y), reachable ? text : muted, label.c_str());
    if (reachable && w / best >= 0.05f) {
      const std::string pct = Format("%.0f%%", w * 100);
      draw->AddText(ImVec2(origin.x + col_w + gap + 10 + ImGui::CalcTextSize(label.c_str()).x, y), muted, pct.c_str());
    }
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + row * float(n)));
  ImGui::Dummy(ImVec2(1, 1));
  ImGui::EndChild();
}

}  // namespace

// --- the views -------------------------------------------------------------------------------

void DrawAttentionView(AppState& app, AttentionViewState& s) {
  ViewHeading(app, "Attention", "What each head attends to: the layer \xc3\x97 head grid, one head as a heatmap, arcs from a token.");
  DrawSource(app);
  if (!app.explain.result || !app.explain.result->has_attention()) {
    Caption(app, "No attention yet: press Explain to run the model over the text with its attention hooks on.");
    return;
  }
  const ExplainResult& r = *app.explain.result;
  const int n = r.n();
  if (std::find(r.attention_layers.begin(), r.attention_layers.end(), s.layer) == r.attention_layers.end()) s.layer = r.attention_layers[0];
  if (std::find(r.attention_heads.begin(), r.attention_heads.end(), s.head) == r.attention_heads.end()) s.head = r.attention_heads[0];
  if (s.query >= n) s.query = -1;
  if (s.key >= n) s.key = -1;

  // Controls.
  int mode = int(s.mode);
  ImGui::RadioButton("One head", &mode, 0);
  ImGui::SameLine();
  ImGui::BeginDisabled(r.mean.empty());
  ImGui::RadioButton("Mean over heads", &mode, 1);
  ImGui::SameLine();
  ImGui::EndDisabled();
  ImGui::BeginDisabled(r.rollout.empty());
  ImGui::RadioButton("Rollout", &mode, 2);
  ImGui::EndDisabled();
  s.mode = AttentionMode(mode);
  ImGui::SameLine();
  HelpMarker("Mean over heads: the average pattern of a layer. Rollout (Abnar & Zuidema, 2020): attention multiplied "
             "through the layers up to this one, counting the residual path as half, to estimate how much each input "
             "token reaches each position.");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("layer", &s.layer);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Layer ([ and ] step through them)");
  s.layer = std::clamp(s.layer, r.attention_layers.front(), r.attention_layers.back());
  ImGui::SameLine();
  ImGui::BeginDisabled(s.mode != AttentionMode::kHead);
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("head", &s.head);
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("Head (, and . step through them)");
  s.head = std::clamp(s.head, r.attention_heads.front(), r.attention_heads.back());
  ImGui::EndDisabled();
  SameLineIfFits(90 + ImGui::CalcTextSize("zoom Reset view").x + 40, ImGui::GetStyle().ItemSpacing.x);
  ImGui::SetNextItemWidth(90);
  ImGui::SliderFloat("zoom", &s.zoom, 1.0f, std::max(1.0f, float(n) / 4.0f), "%.1f\xc3\x97");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Zoom the heatmap (- and =, or the mouse wheel over it; 0 resets)");
  ImGui::SameLine();
  if (ImGui::SmallButton("Reset view")) s.zoom = 1, s.pan_x = s.pan_y = 0;

  std::string what;
  const float* m = ShownMatrix(r, s, &what);
  if (!m) {
    Notice(app, "This explanation does not hold that layer and head.");
    return;
  }

  if (ImGui::BeginTable("attention-layout", 2, ImGuiTableFlags_SizingStretchProp)) {
    ImGui::TableSetupColumn("left", ImGuiTableColumnFlags_WidthStretch, 0.4f);
    ImGui::TableSetupColumn("right", ImGuiTableColumnFlags_WidthStretch, 0.6f);
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    BeginChart("attention-grid");
    DrawHeadGrid(app, s, r);
    EndChart(app, "attention-grid");
    ExportButtons(app, "attention-grid", "loupe-attention-grid", nullptr, nullptr);
    ImGui::Spacing();
    BeginChart("attention-arcs");
    DrawArcs(app, s, r, m);
    EndChart(app, "attention-arcs");
    const std::string base = "loupe-attention-" + std::to_string(s.layer) + (s.mode == AttentionMode::kHead ? "-" + std::to_string(s.head) : s.mode == AttentionMode::kMean ? "-mean" : "-rollout");
    ExportButtons(app, "attention-arcs", base + "-arcs", [&] { return AttentionCsv(r, m); }, nullptr);

    ImGui::TableSetColumnIndex(1);
    ImGui::TextUnformatted(("Heatmap: " + what).c_str());
    ImGui::SameLine();
    HelpMarker("Row: the token doing the attending (query). Column: the token attended to (key). Colour: the weight, "
               "the share of that row's attention; every row adds up to 1.");
    BeginChart("attention-heatmap");
    DrawHeatmap(app, s, r, m, what);
    EndChart(app, "attention-heatmap");
    ExportButtons(app, "attention-heatmap", base, [&] { return AttentionCsv(r, m); }, [&] { return AttentionJson(r, m, what); });
    ImGui::EndTable();
  }
}

void DrawLensView(AppState& app, LensViewState& s) {
  ViewHeading(app, "Logit lens", "The model's best guess for the next token after every layer (nostalgebraist, 2020).");
  DrawSource(app);
  if (!app.explain.result || !app.explain.result->has_lens()) {
    Caption(app, "No logit lens yet: press Explain to run the model over the text.");
    return;
  }
  const ExplainResult& r = *app.explain.result;
  const int n = r.n(), slots = r.lens_slots;
  ImGui::Checkbox("Colour by the final guess's probability", &s.probability_of_final);
  ImGui::SameLine();
  HelpMarker("Off: each cell is coloured by the probability of its own top guess. On: by the probability, at that "
             "layer, of the token the model finally predicts at that position — where the answer 'forms'.");
  Caption(app, "Each cell: the token the model would predict next if it stopped after that layer (rows) at that position "
               "(columns), coloured by its probability.");

  BeginChart("lens");
  const float row_label_w = 86.0f;
  constexpr float kMinCell = 64.0f, kMaxCell = 140.0f;
  const float cell_w = std::clamp((ImGui::GetContentRegionAvail().x - row_label_w) / float(n), kMinCell, kMaxCell);
  const float cell_h = ImGui::GetTextLineHeight() + 8;
  const float chart_h = std::min(cell_h * float(slots) + 70.0f, 560.0f);
  ImGui::BeginChild("lens-grid", ImVec2(0, chart_h), false, ImGuiWindowFlags_HorizontalScrollbar);
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImU32 muted = ImGui::GetColorU32(ImGuiCol_TextDisabled), text = ImGui::GetColorU32(ImGuiCol_Text);
  // The columns in view; a new explanation opens at the end of the text (where the
  // prediction is), or at the picked position.
  const float view_x = ImGui::GetWindowPos().x, view_w = ImGui::GetWindowWidth();
  // The most columns the view shows, whole or in part (a long text's narrowest cells).
  s.columns = std::max(1, int(std::ceil((view_w - row_label_w) / kMinCell)));
  if (s.scrolled_for != app.explain.generation) {
    s.scrolled_for = app.explain.generation;
    ImGui::SetScrollX(s.position >= 0 && s.position < n ? float(s.position) * cell_w : row_label_w + cell_w * float(n));
  }
  const int first = std::clamp(int(std::floor((view_x - origin.x - row_label_w) / cell_w)), 0, n - 1);
  const int last = std::clamp(int(std::floor((view_x + view_w - origin.x - row_label_w) / cell_w)), 0, n - 1);
  // Ask for the columns in view and half a screen either side that the lens lacks.
  const int margin = std::max(1, (last - first + 1) / 2);
  RequestLensColumns(app, std::max(0, first - margin), std::min(n - 1, last + margin));
  // Rows: the last slot (the model's output) on top, the embeddings at the bottom; their
  // labels stay at the left edge (drawn last, over the columns scrolled under them).
  const float label_x = std::max(origin.x, view_x);
  for (int row = 0; row < slots; ++row) {
    const int slot = slots - 1 - row;
    const std::string label = slot == 0 ? "embeddings" : slot == slots - 1 ? Format("layer %d (out)", slot - 1) : Format("layer %d", slot - 1);
    const float y = origin.y + float(row) * cell_h;
    for (int p = first; p <= last; ++p) {
      const float x = origin.x + row_label_w + float(p) * cell_w;
      if (!r.LensHeld(p)) {  // not computed yet: asked for above
        draw->AddRect(ImVec2(x, y), ImVec2(x + cell_w - 1, y + cell_h - 1), muted);
        draw->AddText(ImVec2(x + 4, y + 4), muted, "\xe2\x80\xa6");
        continue;
      }
      const float prob = s.probability_of_final && !r.lens_chosen_probs.empty() ? r.lens_chosen_probs[size_t(slot) * n + p] : r.LensProb(slot, p, 0);
      const ImVec2 a(x, y), b(x + cell_w - 1, y + cell_h - 1);
      draw->AddRectFilled(a, b, ViridisU32(prob));
      const std::string guess = FitText(DisplayToken(r.TokenText(r.LensId(slot, p, 0))), cell_w - 8);
      draw->AddText(ImVec2(x + 4, y + 4), TextColorOnViridis(prob), guess.c_str());
      if (s.layer == slot && s.position == p) draw->AddRect(a, b, text, 0, 0, 2.0f);
      if (ImGui::IsMouseHoveringRect(a, b) && ImGui::IsWindowHovered() && ImGui::GetIO().MousePos.x > label_x + row_label_w) {
        ImGui::BeginTooltip();
        ImGui::Text("%s, position %d %s", label.c_str(), p, Quoted(r.tokens[size_t(p)].text).c_str());
        ImGui::Separator();
        for (int k = 0; k < r.lens_k; ++k)
          ImGui::Text("%d. %-18s %6.2f%%", k + 1, Quoted(r.TokenText(r.LensId(slot, p, k))).c_str(), r.LensProb(slot, p, k) * 100);
        if (!r.lens_chosen.empty() && !r.lens_chosen_probs.empty())
          ImGui::TextDisabled("final guess %s: %.2f%% here", Quoted(r.lens_chosen[size_t(p)].text).c_str(), r.lens_chosen_probs[size_t(slot) * n + p] * 100);
        ImGui::EndTooltip();
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) s.layer = slot, s.position = p;
      }
    }
  }
  const ImU32 background = ImGui::GetColorU32(ImGuiCol_WindowBg);
  for (int row = 0; row < slots; ++row) {
    const int slot = slots - 1 - row;
    const std::string label = slot == 0 ? "embeddings" : slot == slots - 1 ? Format("layer %d (out)", slot - 1) : Format("layer %d", slot - 1);
    const float y = origin.y + float(row) * cell_h;
    draw->AddRectFilled(ImVec2(label_x, y), ImVec2(label_x + row_label_w - 2, y + cell_h), background);
    draw->AddText(ImVec2(label_x, y + 4), muted, label.c_str());
  }
  // Column labels: the input tokens, with the axis title.
  const float base_y = origin.y + float(slots) * cell_h + 4;
  for (int p = first; p <= last; ++p) {
    const std::string label = FitText(Format("%d ", p) + DisplayToken(r.tokens[size_t(p)].text), cell_w - 4);
    draw->AddText(ImVec2(origin.x + row_label_w + float(p) * cell_w + 2, base_y), text, label.c_str());
  }
  draw->AddText(ImVec2(std::max(origin.x, view_x) + row_label_w, base_y + ImGui::GetTextLineHeight() + 2), muted,
                "input token at each position (the guess is for the token after it)");
  ImGui::Dummy(ImVec2(row_label_w + cell_w * float(n), float(slots) * cell_h + 2 * ImGui::GetTextLineHeight() + 10));
  ImGui::EndChild();
  ColorLegend(s.probability_of_final ? "probability of the final guess (0 to 1)" : "probability of the top guess (0 to 1)", 1.0f, 240.0f);
  if (n > s.columns) {
    ImGui::SameLine();
    ImGui::TextDisabled(s.request >= 0 ? "computing the columns in view\xe2\x80\xa6" : "scroll for the other positions");
    ImGui::SameLine();
    HelpMarker("The lens is computed for the positions in view: each costs one unembedding per layer, so the whole "
               "grid of a long text costs several runs of the model. Scrolling computes the columns that come into view.");
  }
  if (s.failed_for == app.explain.generation && !s.error.empty()) Notice(app, ("The lens of the other positions failed: " + s.error).c_str());
  EndChart(app, "lens");
  ExportButtons(app, "lens", "loupe-logit-lens", [&] { return LensCsv(r); }, [&] { return LensJson(r); });
}

void DrawAttributionView(AppState& app, AttributionViewState& s) {
  ViewHeading(app, "Attribution", "Which input tokens drove the model towards a chosen output token.");
  // The request's settings: they apply to the next Explain.
  ImGui::SetNextItemWidth(200);
  ImGui::Combo("method", &s.method, kMethodNames, IM_ARRAYSIZE(kMethodNames));
  ImGui::SameLine();
  HelpMarker("Gradient \xc3\x97 input: how fast the target's log-probability changes with each input embedding, "
             "times that embedding; fast, local. Integrated gradients: the same, averaged along a path from a neutral "
             "input, so the scores add up to the total change; slower. Occlusion: how much the log-probability drops "
             "when the token is removed; no gradients, one pass per token.");
  if (s.method == 1) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(120);
    ImGui::SliderInt("steps", &s.steps, 4, 256);
  }
  ImGui::SetNextItemWidth(200);
  ImGui::InputTextWithHint("target token", FocusAvailable(app) && app.explain.use_focus ? "the focus token" : "the next token", s.target, sizeof s.target);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(160);
  ImGui::InputTextWithHint("contrast (optional)", "e.g. \" he\"", s.contrast, sizeof s.contrast);
  ImGui::SameLine();
  HelpMarker("Target: the output token to explain (its text, with any leading space, or id:N); empty: the focus token "
             "from Generate, else the model's next token. Contrast: explain why the target rather than this token "
             "(log P(target) \xe2\x88\x92 log P(contrast)).");
  DrawSource(app);
  if (!app.explain.result || !app.explain.result->has_attribution) {
    Caption(app, "No attribution yet: choose a method and press Explain.");
    return;
  }
  const ExplainResult& r = *app.explain.result;
  const int count = std::min(int(r.scores.size()), r.n());
  float top = 0;
  for (int i = 0; i < count; ++i) top = std::max(top, std::fabs(r.scores[size_t(i)]));
  if (top <= 0) top = 1;
  int method = 0;
  for (int i = 0; i < 3; ++i)
    if (r.method == kMethods[i]) method = i;
  std::string target = "the target " + Quoted(r.target_text.empty() ? r.TokenText(r.target_id) : r.target_text);
  if (r.contrast_id >= 0) target += " rather than " + Quoted(r.contrast_text);
  ImGui::TextWrapped("%s of %s after position %d (value %.3f%s).", kMethodNames[method], target.c_str(), r.target_position,
                     r.value, r.contrast_id >= 0 ? ", log-probability difference in nats" : ", log-probability in nats");
  if (r.steps > 0) ImGui::TextDisabled("%d steps; completeness gap %.3g (the closer to 0, the more faithful).", r.steps, r.completeness_gap);

  // Shaded text: positive scores in the accent colour, negative in the warning colour.
  const ImVec4 pos = ImGui::ColorConvertU32ToFloat4(ThemePalette(app.theme).accent);
  const ImVec4 neg = ImGui::ColorConvertU32ToFloat4(ThemePalette(app.theme).warning);
  BeginChart("attribution-text");
  ImGui::TextUnformatted("Shaded text");
  ImGui::SameLine();
  HelpMarker("Each input token shaded by its score: the stronger the colour, the more it pushed the model towards "
             "the target (accent colour) or away from it (warning colour). Hover for the number.");
  const float right = ImGui::GetCursorScreenPos().x + ImGui::GetContentRegionAvail().x;
  for (int i = 0; i < count; ++i) {
    const std::string label = DisplayToken(r.tokens[size_t(i)].text);
    const float w = ImGui::CalcTextSize(label.c_str()).x + 8;
    if (i > 0) {
      ImGui::SameLine(0, 2);
      if (ImGui::GetCursorScreenPos().x + w > right) ImGui::NewLine();
    }
    const float v = r.scores[size_t(i)] / top;
    const ImVec4 c = v >= 0 ? pos : neg;
    const ImVec2 a = ImGui::GetCursorScreenPos();
    ImGui::GetWindowDrawList()->AddRectFilled(a, ImVec2(a.x + w, a.y + ImGui::GetTextLineHeight() + 4),
                                              ImGui::GetColorU32(ImVec4(c.x, c.y, c.z, 0.08f + 0.8f * std::fabs(v))), 3.0f);
    ImGui::SetCursorScreenPos(ImVec2(a.x + 4, a.y + 2));
    ImGui::TextUnformatted(label.c_str());
    ImGui::SetCursorScreenPos(a);
    ImGui::PushID(i);
    ImGui::InvisibleButton("token", ImVec2(w, ImGui::GetTextLineHeight() + 4));
    ImGui::PopID();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("position %d %s: score %+.4f", i, Quoted(r.tokens[size_t(i)].text).c_str(), r.scores[size_t(i)]);
  }
  EndChart(app, "attribution-text");
  ExportButtons(app, "attribution-text", "loupe-attribution-text", nullptr, nullptr);
  ImGui::Spacing();

  // Bar chart: one bar per input token, zero in the middle.
  BeginChart("attribution-bars");
  ImGui::TextUnformatted("Scores by input token");
  ImGui::SameLine();
  HelpMarker("Bars to the right pushed the model towards the target, bars to the left away from it. Units: change in the "
             "target's log-probability (natural log, nats), shared out over the input tokens.");
  const float label_w = 140.0f, bar_w = std::max(160.0f, std::min(ImGui::GetContentRegionAvail().x - label_w - 70, 520.0f));
  const float row = ImGui::GetTextLineHeight() + 4;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float zero_x = origin.x + label_w + bar_w / 2;
  const ImU32 muted = ImGui::GetColorU32(ImGuiCol_TextDisabled), text = ImGui::GetColorU32(ImGuiCol_Text);
  for (int i = 0; i < count; ++i) {
    const float y = origin.y + float(i) * row;
    const std::string label = FitText(Format("%d ", i) + DisplayToken(r.tokens[size_t(i)].text), label_w - 8);
    draw->AddText(ImVec2(origin.x + label_w - 6 - ImGui::CalcTextSize(label.c_str()).x, y + 2), text, label.c_str());
    const float v = r.scores[size_t(i)] / top;
    const float x1 = zero_x + v * bar_w / 2;
    draw->AddRectFilled(ImVec2(std::min(zero_x, x1), y + 3), ImVec2(std::max(zero_x, x1), y + row - 2),
                        ImGui::GetColorU32(v >= 0 ? pos : neg));
    const std::string value = Format("%+.3f", r.scores[size_t(i)]);
    draw->AddText(ImVec2(v >= 0 ? x1 + 4 : x1 - 4 - ImGui::CalcTextSize(value.c_str()).x, y + 2), muted, value.c_str());
  }
  const float axis_y = origin.y + float(count) * row + 2;
  draw->AddLine(ImVec2(zero_x, origin.y), ImVec2(zero_x, axis_y), text);
  draw->AddLine(ImVec2(origin.x + label_w, axis_y), ImVec2(origin.x + label_w + bar_w, axis_y), muted);
  const float ticks[3] = {-top, 0, top};
  for (int t = 0; t < 3; ++t) {
    const std::string tick = Format("%+.3g", ticks[t]);
    const float x = zero_x + float(t - 1) * bar_w / 2;
    draw->AddLine(ImVec2(x, axis_y), ImVec2(x, axis_y + 3), muted);
    draw->AddText(ImVec2(x - ImGui::CalcTextSize(tick.c_str()).x / 2, axis_y + 4), muted, tick.c_str());
  }
  const char* axis = "score: change in log-probability of the target (nats)";
  draw->AddText(ImVec2(zero_x - ImGui::CalcTextSize(axis).x / 2, axis_y + 6 + ImGui::GetTextLineHeight()), muted, axis);
  AddTextRotated(draw, ImVec2(origin.x, origin.y + std::min(float(count) * row, 160.0f)), muted, "input token", -1.570796f);
  ImGui::Dummy(ImVec2(label_w + bar_w + 60, float(count) * row + 2 * ImGui::GetTextLineHeight() + 12));
  EndChart(app, "attribution-bars");
  ExportButtons(app, "attribution-bars", "loupe-attribution-" + r.method, [&] { return AttributionCsv(r); }, [&] { return AttributionJson(r); });
}

// --- requests ------------------------------------------------------------------------------

json ExplanationRequest(const AppState& app) {
  const ExplainViewsState& e = app.explain;
  const AttributionViewState& a = e.attribution;
  json request = {{"op", "explain"}, {"what", "attention,lens,stats,heads,attribution"}, {"top_k", 5}};
  // The lens of what the Logit-lens view shows first: the columns at the end of the text
  // when it is the view on screen, else just the last one; it asks for more as it scrolls.
  request["lens_last"] = app.view == ViewId::kLens && e.lens.columns > 0 ? e.lens.columns : 1;
  request["method"] = kMethods[std::clamp(a.method, 0, 2)];
  if (a.method == 1) request["steps"] = a.steps;
  if (a.contrast[0]) request["contrast_token"] = a.contrast;
  if (e.use_focus && FocusAvailable(app)) {
    // The text before the focus token; the focus token is the attribution's target.
    json ids = json::array();
    for (const TokenChip& t : app.engine.prompt_tokens) ids.push_back(t.id);
    for (int i = 0; i < app.focus_token; ++i) ids.push_back(app.engine.tokens[size_t(i)].id);
    request["ids"] = std::move(ids);
    request["target_token"] = "id:" + std::to_string(app.engine.tokens[size_t(app.focus_token)].id);
  } else {
    request["prompt"] = std::string(e.prompt);
  }
  if (a.target[0]) request["target_token"] = a.target;
  return request;
}

void RequestExplanation(AppState& app) {
  ExplainViewsState& e = app.explain;
  json request = ExplanationRequest(app);
  e.requested = request.contains("ids")
                    ? "The text up to the focus token " + Quoted(app.engine.tokens[size_t(app.focus_token)].piece) + "."
                    : "The prompt above.";
  e.error.clear();
  e.request = SendRequest(app, std::move(request));
}

int RequestLensColumns(AppState& app, int first, int last) {
  ExplainViewsState& e = app.explain;
  LensViewState& s = e.lens;
  if (!e.result || !e.result->has_lens() || s.request >= 0 || s.failed_for == e.generation || app.engine.generating ||
      !ModelLoaded(app))
    return -1;
  const ExplainResult& r = *e.result;
  json positions = json::array();
  for (int p = std::max(0, first); p <= std::min(last, r.n() - 1); ++p)
    if (!r.LensHeld(p)) positions.push_back(p);
  if (positions.empty()) return -1;
  json ids = json::array();
  for (const ExplainToken& t : r.tokens) ids.push_back(t.id);
  s.requested_for = e.generation;
  s.request = SendRequest(app, {{"op", "explain"}, {"what", "lens"}, {"ids", std::move(ids)}, {"top_k", r.lens_k},
                                {"lens_positions", std::move(positions)}});
  return s.request;
}

void CollectExplanation(AppState& app) {
  ExplainViewsState& e = app.explain;
  auto& results = app.engine.explain_results;
  auto& errors = app.engine.explain_errors;
  // The lens of more positions, into the result it was asked for (if still shown).
  LensViewState& lens = e.lens;
  if (lens.request >= 0) {
    if (auto it = errors.find(lens.request); it != errors.end()) {
      lens.error = it->second;
      lens.failed_for = lens.requested_for;
      errors.erase(it);
      lens.request = -1;
    } else if (auto found = results.find(lens.request); found != results.end()) {
      std::string error;
      std::optional<ExplainResult> parsed = ParseExplainResult(found->second, &error);
      results.erase(found);
      lens.request = -1;
      if (lens.requested_for == e.generation && e.result && (!parsed || !MergeLens(*e.result, *parsed))) {
        lens.error = parsed ? "the engine's lens does not fit the text shown" : error;
        lens.failed_for = e.generation;
      }
    }
  }
  if (e.request < 0) return;
  if (auto it = errors.find(e.request); it != errors.end()) {
    e.error = "The engine could not explain this: " + it->second;
    errors.erase(it);
    e.request = -1;
    return;
  }
  if (auto it = results.find(e.request); it != results.end()) {
    std::string error;
    std::optional<ExplainResult> parsed = ParseExplainResult(it->second, &error);
    results.erase(it);
    e.request = -1;
    if (parsed) {
      SetExplanation(app, std::move(*parsed));
    } else {
      e.error = error;
    }
  }
}

void SetExplanation(AppState& app, ExplainResult result) {
  app.explain.result = std::move(result);
  app.explain.generation++;
  app.explain.error.clear();
}

}  // namespace loupe::app
