// Lessons: the two-cities lesson. Two tiny models bundled with Loupe differ only in their
// training data (stories in which occupations and pronouns co-occur with a known skew, or
// with none); the view sets that known skew beside the pronoun bias measured in each
// model, and lets the user retrain a model of their own at a skew of their choosing (the
// engine's "train" op, in the worker thread natively and in the Web Worker in the
// browser, so the UI never waits). The retrained model's bias joins the chart.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "app.h"
#include "imgui.h"
#include "train/two_cities.h"
#include "ui.h"
#include "views/chart.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif

namespace loupe::app {

namespace {

using Json = nlohmann::json;

double LogOdds(double share) {
  share = std::clamp(share, 0.01, 0.99);  // as the engine measures it (two_cities.h)
  return std::log(share / (1 - share));
}

// The series of the chart: a bar is a model's measured bias, a marker the skew of the data
// it was trained on.
struct Series {
  const char* name;
  ImU32 colour;
};
ImU32 SkewedColour() { return IM_COL32(230, 126, 34, 255); }    // orange
ImU32 BalancedColour() { return IM_COL32(120, 144, 156, 255); }  // blue-grey
ImU32 YoursColour() { return IM_COL32(46, 160, 67, 255); }       // green

void Diamond(ImDrawList* draw, ImVec2 c, float r, ImU32 fill, ImU32 edge) {
  draw->AddQuadFilled(ImVec2(c.x, c.y - r), ImVec2(c.x + r, c.y), ImVec2(c.x, c.y + r), ImVec2(c.x - r, c.y), fill);
  draw->AddQuad(ImVec2(c.x, c.y - r), ImVec2(c.x + r, c.y), ImVec2(c.x, c.y + r), ImVec2(c.x - r, c.y), edge, 1.5f);
}

// Grouped bars per occupation with the data's log-odds as diamonds; y axis in nats.
void DrawBiasChart(AppState& app, const LessonsViewState& s) {
  const std::vector<train::BundledPairBias>& pair = train::two_cities_bundled_bias();
  const std::vector<train::Occupation>& occupations = train::two_cities_occupations();
  const bool yours = s.have_result;
  const int per_group = yours ? 3 : 2;

  double limit = 3;
  for (size_t i = 0; i < pair.size(); ++i) {
    limit = std::max({limit, std::abs(pair[i].skewed), std::abs(pair[i].balanced), std::abs(LogOdds(occupations[i].she_share))});
    if (yours && i < s.result_bias.size())
      limit = std::max({limit, std::abs(s.result_bias[i]), std::abs(s.result_data_log_odds[i])});
  }
  limit = std::ceil(limit);

  BeginChart("two-cities-chart");
  const float width = std::max(420.0f, std::min(ImGui::GetContentRegionAvail().x, 900.0f));
  const float height = 220.0f, axis_w = 82.0f, label_h = 22.0f;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), grid = ImGui::GetColorU32(ImGuiCol_Border);
  const ImU32 muted = ThemePalette(app.theme).muted;
  const float x0 = origin.x + axis_w, x1 = origin.x + width, y0 = origin.y + 8, y1 = origin.y + height;
  auto y_of = [&](double v) { return float(y0 + (y1 - y0) * (limit - v) / (2 * limit)); };

  // The y axis: integer ticks, a zero line, and what it measures.
  char buffer[64];
  for (int t = -int(limit); t <= int(limit); ++t) {
    const float y = y_of(t);
    draw->AddLine(ImVec2(x0, y), ImVec2(x1, y), t == 0 ? text : grid, t == 0 ? 1.5f : 1.0f);
    std::snprintf(buffer, sizeof buffer, "%+d", t);
    if (t == 0) std::snprintf(buffer, sizeof buffer, "0");
    const ImVec2 size = ImGui::CalcTextSize(buffer);
    draw->AddText(ImVec2(x0 - 6 - size.x, y - size.y / 2), text, buffer);
  }
  draw->AddLine(ImVec2(x0, y0), ImVec2(x0, y1), text);
  const char* axis = "bias (nats)";
  AddTextRotated(draw, ImVec2(origin.x + 2, y_of(0) + ImGui::CalcTextSize(axis).x / 2), muted, axis, -1.5708f);
  // Which way is which, at the ends of the axis.
  draw->AddText(ImVec2(origin.x + 22, y0), muted, "she");
  draw->AddText(ImVec2(origin.x + 22, y1 - ImGui::GetTextLineHeight()), muted, "he");

  // The groups.
  const float group_w = (x1 - x0) / float(occupations.size());
  const float bar_w = std::min(22.0f, (group_w - 14) / float(per_group));
  for (size_t i = 0; i < occupations.size(); ++i) {
    const float gx = x0 + group_w * float(i) + (group_w - bar_w * float(per_group)) / 2;
    struct Bar {
      double bias, data;
      ImU32 colour;
    };
    Bar bars[3] = {{pair[i].skewed, LogOdds(occupations[i].she_share), SkewedColour()},
                   {pair[i].balanced, 0.0, BalancedColour()},
                   {yours ? s.result_bias[i] : 0, yours ? s.result_data_log_odds[i] : 0, YoursColour()}};
    for (int b = 0; b < per_group; ++b) {
      const float bx = gx + bar_w * float(b);
      const float ya = y_of(0), yb = y_of(bars[b].bias);
      draw->AddRectFilled(ImVec2(bx + 1, std::min(ya, yb)), ImVec2(bx + bar_w - 1, std::max(ya, yb)), bars[b].colour);
      Diamond(draw, ImVec2(bx + bar_w / 2, y_of(bars[b].data)), 5.0f, ImGui::GetColorU32(ImGuiCol_WindowBg), bars[b].colour);
    }
    const std::string name = FitText(occupations[i].name, group_w - 2);
    const float tw = ImGui::CalcTextSize(name.c_str()).x;
    draw->AddText(ImVec2(x0 + group_w * (float(i) + 0.5f) - tw / 2, y1 + 4), text, name.c_str());
  }
  ImGui::Dummy(ImVec2(width, height + label_h));

  // Hover: the numbers of the occupation under the mouse.
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  if (ImGui::IsItemHovered() && mouse.x > x0 && mouse.x < x1) {
    const size_t i = std::min(occupations.size() - 1, size_t((mouse.x - x0) / group_w));
    ImGui::BeginTooltip();
    ImGui::Text("%s", occupations[i].name.c_str());
    ImGui::Text("skewed city: data %+.2f, model %+.2f", LogOdds(occupations[i].she_share), pair[i].skewed);
    ImGui::Text("balanced city: data 0, model %+.2f", pair[i].balanced);
    if (yours) ImGui::Text("your city: data %+.2f, model %+.2f", s.result_data_log_odds[i], s.result_bias[i]);
    ImGui::EndTooltip();
  }

  // The legend.
  auto swatch = [&](ImU32 colour, const char* label) {
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(p.x, p.y + 3), ImVec2(p.x + 14, p.y + h - 3), colour);
    ImGui::Dummy(ImVec2(16, h));
    ImGui::SameLine();
    ImGui::TextUnformatted(label);
    ImGui::SameLine(0, 18);
  };
  swatch(SkewedColour(), "skewed city's model");
  swatch(BalancedColour(), "balanced city's model");
  if (yours) swatch(YoursColour(), "your model");
  {
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    Diamond(ImGui::GetWindowDrawList(), ImVec2(p.x + 7, p.y + h / 2), 5.0f, ImGui::GetColorU32(ImGuiCol_WindowBg), text);
    ImGui::Dummy(ImVec2(16, h));
    ImGui::SameLine();
    ImGui::TextUnformatted("the skew in that model's training data");
  }
  EndChart(app, "two-cities-chart");
  Caption(app, "Bars: log P(\" she\") \xe2\x80\x93 log P(\" he\") after \"The <occupation> said that\" in each model; "
               "diamonds: the log-odds of \"she\" in its training stories \xe2\x80\x94 each model's bias sits near "
               "the skew of its own data.");
}

void DrawBiasTable(const LessonsViewState& s) {
  const std::vector<train::BundledPairBias>& pair = train::two_cities_bundled_bias();
  const std::vector<train::Occupation>& occupations = train::two_cities_occupations();
  const bool yours = s.have_result;
  const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("two-cities-table", yours ? 7 : 5, flags)) return;
  ImGui::TableSetupColumn("occupation");
  ImGui::TableSetupColumn("skewed data: she-share (log-odds)");
  ImGui::TableSetupColumn("skewed model");
  ImGui::TableSetupColumn("balanced data");
  ImGui::TableSetupColumn("balanced model");
  if (yours) {
    ImGui::TableSetupColumn("your data");
    ImGui::TableSetupColumn("your model");
  }
  ImGui::TableHeadersRow();
  for (size_t i = 0; i < occupations.size(); ++i) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(occupations[i].name.c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%.2f (%+.2f)", occupations[i].she_share, LogOdds(occupations[i].she_share));
    ImGui::TableNextColumn();
    ImGui::Text("%+.2f", pair[i].skewed);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted("0.50 (0)");
    ImGui::TableNextColumn();
    ImGui::Text("%+.2f", pair[i].balanced);
    if (yours) {
      ImGui::TableNextColumn();
      ImGui::Text("%.2f (%+.2f)", s.result_share[i], s.result_data_log_odds[i]);
      ImGui::TableNextColumn();
      ImGui::Text("%+.2f", s.result_bias[i]);
    }
  }
  ImGui::EndTable();
}

std::string Duration(double seconds) {
  char buffer[32];
  if (seconds < 0) return "?";
  if (seconds >= 60) std::snprintf(buffer, sizeof buffer, "%d min %02d s", int(seconds) / 60, int(seconds) % 60);
  else std::snprintf(buffer, sizeof buffer, "%.0f s", std::ceil(seconds));
  return buffer;
}

#ifdef __EMSCRIPTEN__
// For scripts and the browser tests: the lesson's state and where its controls are (CSS
// pixels), as window.loupeLesson.
void Publish(const LessonsViewState& s, const Json& rects) {
  Json j{{"training", s.training}, {"step", s.step}, {"steps", s.steps_total}, {"skew", s.skew},
         {"steps_setting", s.steps}, {"status", s.status}, {"error", s.error}, {"rects", rects},
         {"progress_events", s.progress_events}};
  if (s.have_result)
    j["result"] = {{"skew", s.result_skew}, {"bias", s.result_bias}, {"data_log_odds", s.result_data_log_odds},
                   {"aligned_bias", s.result_aligned}, {"seconds", s.result_seconds}, {"steps", s.result_steps}};
  const std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  EM_ASM({ window.loupeLesson = JSON.parse(UTF8ToString($0)); }, text.c_str());
}
#endif

// The last item's rectangle; `width` > 0 keeps only its frame (a slider without its label).
Json ItemRect(float width = 0) {
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  return Json::array({a.x, a.y, width > 0 ? a.x + width : b.x, b.y});
}

}  // namespace

void ApplyLessonEvent(AppState& app, const Json& event) {
  LessonsViewState& s = app.lessons;
  const std::string kind = event.value("event", "");
  if (kind == "train_start") {
    s.training = true;
    s.step = 0;
    s.steps_total = event.value("steps", 0);
    s.seconds_left = -1;
    s.status.clear();
    s.error.clear();
  } else if (kind == "train_progress") {
    s.training = true;
    s.step = event.value("step", 0);
    s.steps_total = event.value("steps", s.steps_total);
    s.loss = event.value("loss", 0.0);
    s.tokens_per_s = event.value("tokens_per_s", 0.0);
    s.seconds_left = event.value("seconds_left", -1.0);
    s.elapsed_s = event.value("elapsed_s", 0.0);
    ++s.progress_events;
  } else if (kind == "trained") {
    s.training = false;
    const Json bias = event.value("bias", Json::object());
    s.result_bias.clear();
    s.result_share.clear();
    s.result_data_log_odds.clear();
    for (const Json& row : bias.value("occupations", Json::array())) {
      s.result_bias.push_back(row.value("bias", 0.0));
      s.result_share.push_back(row.value("share", 0.5));
      s.result_data_log_odds.push_back(row.value("data_log_odds", 0.0));
    }
    s.have_result = s.result_bias.size() == train::two_cities_occupations().size();
    s.result_skew = event.value("skew", 0.0);
    s.result_aligned = bias.value("aligned_bias", 0.0);
    s.result_rank = bias.value("rank_correlation", 0.0);
    s.result_seconds = event.value("seconds", 0.0);
    s.result_steps = event.value("steps", 0);
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "Trained %d steps in %s. It is now the loaded model.", s.result_steps,
                  Duration(s.result_seconds).c_str());
    s.status = buffer;
  } else if (kind == "train_cancelled") {
    s.training = false;
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "Cancelled at step %d of %d.", event.value("step", 0), event.value("steps", 0));
    s.status = buffer;
  } else if (kind == "error") {
    s.training = false;
    s.error = event.value("message", "");
  }
}

void DrawLessonsView(AppState& app, LessonsViewState& s) {
  ViewHeading(app, "Lessons: two cities", "How data becomes behaviour, with a skew we know.");
  ImGui::PushTextWrapPos(std::min(ImGui::GetCursorPosX() + 900.0f, ImGui::GetContentRegionMax().x));
  ImGui::TextWrapped(
      "Two tiny models bundled with Loupe were trained the same way on the same short stories "
      "(\"The nurse said that she was tired. ...\") but for one thing: in the skewed city nurses and teachers say "
      "\"she\" in 90%% of their stories, mechanics and engineers in 10%%; in the balanced city every occupation says "
      "\"she\" in exactly half. Ask each model what comes after \"The nurse said that\": the skew in its data comes "
      "back out as bias in the model.");
  ImGui::PopTextWrapPos();
  ImGui::Spacing();

  DrawBiasChart(app, s);
  ImGui::Spacing();

  // Retrain.
  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted("Your city");
  ImGui::PopFont();
  Caption(app, "Choose how often nurses and teachers say \"she\" in the stories (the other occupations follow on the "
               "same scale: 0.5 is the balanced city, 0.9 the skewed one, 0.1 swaps he and she), and train a tiny "
               "model on them here. It takes a minute or two; the trained model then becomes the loaded model, so "
               "you can also generate with it.");
  Json rects = Json::object();
  ImGui::BeginDisabled(s.training);
  const float slider_w = 260;
  ImGui::SetNextItemWidth(slider_w);
  ImGui::SliderFloat("she-share of nurses' stories", &s.skew, 0.0f, 1.0f, "%.2f");
  rects["skew"] = ItemRect(slider_w);
  ImGui::SameLine();
  HelpMarker("The share of stories about nurses and teachers that use \"she\". Bakers and writers get "
             "0.5 + (share \xe2\x80\x93 0.5) \xc2\xb7 0.625, farmers and pilots the mirror image, mechanics and "
             "engineers 1 \xe2\x80\x93 share.");
  ImGui::SetNextItemWidth(slider_w);
  ImGui::SliderInt("training steps", &s.steps, 40, 600);
  rects["steps"] = ItemRect(slider_w);
  ImGui::SameLine();
  HelpMarker("Fewer steps finish sooner and learn less. Each step reads 16 stories' worth of text (768 tokens).");
  if (ImGui::Button("Retrain")) {
    s.error.clear();
    s.status.clear();
    s.training = true;  // until "train_start" or an error says otherwise
    s.step = 0;
    s.steps_total = s.steps;
    s.seconds_left = -1;
    SendRequest(app, {{"op", "train"}, {"recipe", "two-cities"}, {"skew", std::round(s.skew * 100) / 100},
                      {"seed", 1}, {"steps", s.steps}});
  }
  rects["retrain"] = ItemRect();
  ImGui::EndDisabled();
  if (s.training) {
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) SendRequest(app, {{"op", "cancel"}});
    rects["cancel"] = ItemRect();
    char label[64];
    std::snprintf(label, sizeof label, "step %d / %d", s.step, s.steps_total);
    ImGui::ProgressBar(s.steps_total > 0 ? float(s.step) / float(s.steps_total) : 0.0f, ImVec2(420, 0), label);
    ImGui::SameLine();
    if (s.step == 0) ImGui::TextDisabled("writing stories, learning a vocabulary\xe2\x80\xa6");
    else ImGui::Text("about %s left", Duration(s.seconds_left).c_str());
    if (s.step > 0) ImGui::TextDisabled("loss %.3f  \xc2\xb7  %.0f tokens/s  \xc2\xb7  %s so far", s.loss, s.tokens_per_s,
                                        Duration(s.elapsed_s).c_str());
  }
  if (!s.status.empty()) Caption(app, s.status.c_str());
  if (!s.error.empty()) Notice(app, s.error.c_str());
  if (s.have_result) {
    ImGui::Text("Your model (she-share %.2f): bias along the data's skew %+.2f nats on average, rank correlation "
                "with the data %.2f.", s.result_skew, s.result_aligned, s.result_rank);
  }
  ImGui::Spacing();
  if (ImGui::CollapsingHeader("The numbers", ImGuiTreeNodeFlags_DefaultOpen)) DrawBiasTable(s);
#ifdef __EMSCRIPTEN__
  Publish(s, rects);
#else
  (void)rects;
#endif
}

}  // namespace loupe::app
