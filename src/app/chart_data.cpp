#include "chart_data.h"

#include <nlohmann/json.hpp>

namespace loupe::app {

using json = nlohmann::json;

namespace {
std::string Num(float x) { return json(x).dump(); }
}  // namespace

std::string CsvText(const std::string& text) {
  std::string q = "\"";
  for (char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string AttentionCsv(const ExplainResult& r, const float* m) {
  std::string s = "query,query_text,key,key_text,weight\n";
  const int n = r.n();
  if (!m) return s;
  for (int q = 0; q < n; ++q)
    for (int k = 0; k <= q; ++k)
      s += std::to_string(q) + "," + CsvText(r.tokens[size_t(q)].text) + "," + std::to_string(k) + "," +
           CsvText(r.tokens[size_t(k)].text) + "," + Num(m[size_t(q) * n + k]) + "\n";
  return s;
}

std::string AttentionJson(const ExplainResult& r, const float* m, const std::string& what) {
  json j = {{"what", what}, {"model", r.model_name}, {"tokens", json::array()}, {"weights", json::array()}};
  for (const ExplainToken& t : r.tokens) j["tokens"].push_back({{"id", t.id}, {"text", t.text}});
  const int n = r.n();
  if (m)
    for (int q = 0; q < n; ++q) {
      json row = json::array();
      for (int k = 0; k < n; ++k) row.push_back(m[size_t(q) * n + k]);
      j["weights"].push_back(std::move(row));
    }
  return j.dump(1) + "\n";
}

std::string LensCsv(const ExplainResult& r) {
  std::string s = "layer,position,token_text,rank,id,text,prob\n";
  for (int l = 0; l < r.lens_slots; ++l)
    for (int p = 0; p < r.n(); ++p)
      for (int k = 0; k < r.lens_k && r.LensHeld(p); ++k) {
        const int id = r.LensId(l, p, k);
        s += std::to_string(l) + "," + std::to_string(p) + "," + CsvText(r.tokens[size_t(p)].text) + "," + std::to_string(k + 1) +
             "," + std::to_string(id) + "," + CsvText(r.TokenText(id)) + "," + Num(r.LensProb(l, p, k)) + "\n";
      }
  return s;
}

std::string LensJson(const ExplainResult& r) {
  json j = {{"model", r.model_name}, {"layers", r.lens_slots}, {"tokens", json::array()}, {"positions", json::array()},
            {"top", json::array()}};
  for (const ExplainToken& t : r.tokens) j["tokens"].push_back({{"id", t.id}, {"text", t.text}});
  for (int p = 0; p < r.n(); ++p)
    if (r.LensHeld(p)) j["positions"].push_back(p);  // the lens is computed for the positions shown
  for (int l = 0; l < r.lens_slots; ++l) {
    json row = json::array();
    for (int p = 0; p < r.n(); ++p) {
      if (!r.LensHeld(p)) continue;
      json guesses = json::array();
      for (int k = 0; k < r.lens_k; ++k)
        guesses.push_back({{"id", r.LensId(l, p, k)}, {"text", r.TokenText(r.LensId(l, p, k))}, {"prob", r.LensProb(l, p, k)}});
      row.push_back(std::move(guesses));
    }
    j["top"].push_back(std::move(row));
  }
  return j.dump(1) + "\n";
}

std::string AttributionCsv(const ExplainResult& r) {
  std::string s = "position,id,text,score\n";
  for (size_t i = 0; i < r.scores.size() && i < r.tokens.size(); ++i)
    s += std::to_string(i) + "," + std::to_string(r.tokens[i].id) + "," + CsvText(r.tokens[i].text) + "," + Num(r.scores[i]) + "\n";
  return s;
}

std::string AttributionJson(const ExplainResult& r) {
  json j = {{"model", r.model_name}, {"method", r.method}, {"target_position", r.target_position},
            {"target", {{"id", r.target_id}, {"text", r.target_text}}}, {"value", r.value}, {"scores", json::array()}};
  if (r.contrast_id >= 0) j["contrast"] = {{"id", r.contrast_id}, {"text", r.contrast_text}};
  if (r.steps) j["steps"] = r.steps;
  for (size_t i = 0; i < r.scores.size() && i < r.tokens.size(); ++i)
    j["scores"].push_back({{"position", i}, {"id", r.tokens[i].id}, {"text", r.tokens[i].text}, {"score", r.scores[i]}});
  return j.dump(1) + "\n";
}

}  // namespace loupe::app
