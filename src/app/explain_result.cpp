#include "explain_result.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace loupe::app {

using json = nlohmann::json;

namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Bad(const std::string& what) { throw ParseError(what); }

const json& Field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) Bad(where + " has no \"" + key + "\"");
  return object[key];
}

int Int(const json& v, const std::string& where, int lo, int hi) {
  if (!v.is_number_integer()) Bad(where + " is not an integer");
  const long long x = v.get<long long>();
  if (x < lo || x > hi) Bad(where + " is " + std::to_string(x) + ", outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(x);
}

float Number(const json& v, const std::string& where) {
  if (!v.is_number()) Bad(where + " is not a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) Bad(where + " is not finite");
  return static_cast<float>(x);
}

std::string String(const json& v, const std::string& where) {
  if (!v.is_string()) Bad(where + " is not a string");
  return v.get<std::string>();
}

const json& Array(const json& v, const std::string& where, size_t size) {
  if (!v.is_array()) Bad(where + " is not an array");
  if (size != SIZE_MAX && v.size() != size)
    Bad(where + " has " + std::to_string(v.size()) + " entries, not " + std::to_string(size));
  return v;
}

// An n x n matrix of numbers as a flat row-major vector.
std::vector<float> Matrix(const json& v, int n, const std::string& where) {
  Array(v, where, size_t(n));
  std::vector<float> m(size_t(n) * n);
  for (int r = 0; r < n; ++r) {
    const json& row = Array(v[size_t(r)], where + "[" + std::to_string(r) + "]", size_t(n));
    for (int c = 0; c < n; ++c) m[size_t(r) * n + c] = Number(row[size_t(c)], where);
  }
  return m;
}

ExplainResult Parse(const json& j) {
  if (!j.is_object()) Bad("the explanation is not a JSON object");
  ExplainResult r;
  if (j.contains("model") && j["model"].is_object()) {
    const json& m = j["model"];
    if (m.contains("name") && m["name"].is_string()) r.model_name = m["name"].get<std::string>();
    if (m.contains("n_layers")) r.n_layers = Int(m["n_layers"], "model.n_layers", 0, kMaxExplainLayers);
    if (m.contains("n_heads")) r.n_heads = Int(m["n_heads"], "model.n_heads", 0, kMaxExplainHeads);
  }
  const json& tokens = Array(Field(j, "tokens", "the explanation"), "tokens", SIZE_MAX);
  if (tokens.empty()) Bad("the explanation has no tokens");
  if (tokens.size() > size_t(kMaxExplainTokens)) Bad("the explanation has more than " + std::to_string(kMaxExplainTokens) + " tokens");
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string where = "tokens[" + std::to_string(i) + "]";
    ExplainToken t{Int(Field(tokens[i], "id", where), where + ".id", 0, INT32_MAX), String(Field(tokens[i], "text", where), where + ".text")};
    r.vocab.emplace(t.id, t.text);
    r.tokens.push_back(std::move(t));
  }
  const int n = r.n();

  if (j.contains("attention")) {
    const json& layers = Array(j["attention"], "attention", SIZE_MAX);
    if (layers.size() > size_t(kMaxExplainLayers)) Bad("attention has too many layers");
    const json& layer_ids = Array(Field(j, "attention_layers", "the explanation"), "attention_layers", layers.size());
    const json& head_ids = Array(Field(j, "attention_heads", "the explanation"), "attention_heads", SIZE_MAX);
    if (head_ids.size() > size_t(kMaxExplainHeads)) Bad("attention has too many heads");
    for (const json& l : layer_ids) r.attention_layers.push_back(Int(l, "attention_layers[]", 0, kMaxExplainLayers - 1));
    for (const json& h : head_ids) r.attention_heads.push_back(Int(h, "attention_heads[]", 0, kMaxExplainHeads - 1));
    // Guard the total before allocating: layers x heads x n x n floats.
    const double cells = double(layers.size()) * double(head_ids.size()) * double(n) * double(n);
    if (cells > 64.0 * 1024 * 1024) Bad("attention is too large to show (" + std::to_string(size_t(cells)) + " weights)");
    for (size_t li = 0; li < layers.size(); ++li) {
      const std::string where = "attention[" + std::to_string(li) + "]";
      const json& heads = Array(layers[li], where, head_ids.size());
      for (size_t hi = 0; hi < heads.size(); ++hi) r.attention.push_back(Matrix(heads[hi], n, where + "[" + std::to_string(hi) + "]"));
    }
    for (int l : r.attention_layers) r.n_layers = std::max(r.n_layers, l + 1);
    for (int h : r.attention_heads) r.n_heads = std::max(r.n_heads, h + 1);
    if (j.contains("attention_summary") && j["attention_summary"].is_object()) {
      const json& s = j["attention_summary"];
      for (const char* key : {"mean", "rollout"}) {
        if (!s.contains(key)) continue;
        const json& per_layer = Array(s[key], std::string("attention_summary.") + key, size_t(r.n_layers));
        auto& out = std::string(key) == "mean" ? r.mean : r.rollout;
        for (size_t l = 0; l < per_layer.size(); ++l)
          out.push_back(Matrix(per_layer[l], n, std::string("attention_summary.") + key + "[" + std::to_string(l) + "]"));
      }
    }
  }

  if (j.contains("heads")) {
    const json& layers = Array(j["heads"], "heads", SIZE_MAX);
    if (layers.size() > size_t(kMaxExplainLayers)) Bad("heads has too many layers");
    if (r.n_layers == 0) r.n_layers = int(layers.size());
    if (layers.size() != size_t(r.n_layers)) Bad("heads has " + std::to_string(layers.size()) + " layers, not " + std::to_string(r.n_layers));
    for (size_t l = 0; l < layers.size(); ++l) {
      const json& row = Array(layers[l], "heads[" + std::to_string(l) + "]", SIZE_MAX);
      if (r.n_heads == 0) r.n_heads = int(std::min<size_t>(row.size(), kMaxExplainHeads));
      Array(row, "heads[" + std::to_string(l) + "]", size_t(r.n_heads));
      for (const json& h : row) {
        HeadStatistics s;
        s.entropy = Number(Field(h, "entropy", "heads[]"), "heads[].entropy");
        s.prev_token = Number(Field(h, "prev_token", "heads[]"), "heads[].prev_token");
        s.first_token = Number(Field(h, "first_token", "heads[]"), "heads[].first_token");
        s.induction = Number(Field(h, "induction", "heads[]"), "heads[].induction");
        r.heads.push_back(s);
      }
    }
  }

  if (j.contains("lens")) {
    const json& lens = j["lens"];
    const json& ids = Array(Field(lens, "top_ids", "lens"), "lens.top_ids", SIZE_MAX);
    const json& probs = Array(Field(lens, "top_probs", "lens"), "lens.top_probs", ids.size());
    if (ids.empty() || ids.size() > size_t(kMaxExplainLayers) + 1) Bad("lens.top_ids has " + std::to_string(ids.size()) + " layers");
    r.lens_slots = int(ids.size());
    // The columns: every position, or those `positions` lists (the lens computed lazily).
    std::vector<int> columns;
    if (lens.contains("positions")) {
      const json& positions = Array(lens["positions"], "lens.positions", SIZE_MAX);
      if (positions.size() > size_t(n)) Bad("lens.positions lists more positions than the text has");
      for (const json& p : positions) columns.push_back(Int(p, "lens.positions[]", 0, n - 1));
      std::vector<int> sorted = columns;
      std::sort(sorted.begin(), sorted.end());
      if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) Bad("lens.positions repeats a position");
    } else {
      for (int p = 0; p < n; ++p) columns.push_back(p);
    }
    const size_t m = columns.size();
    r.lens_held.assign(size_t(n), 0);
    for (int p : columns) r.lens_held[size_t(p)] = 1;
    for (size_t s = 0; s < ids.size(); ++s) {
      const std::string where = "lens.top_ids[" + std::to_string(s) + "]";
      Array(ids[s], where, m);
      Array(probs[s], "lens.top_probs[" + std::to_string(s) + "]", m);
      for (size_t c = 0; c < m; ++c) {
        const json& ki = Array(ids[s][c], where + "[]", SIZE_MAX);
        if (r.lens_k == 0) {
          if (ki.empty() || ki.size() > 1000) Bad("lens has " + std::to_string(ki.size()) + " guesses per position");
          r.lens_k = int(ki.size());
          r.lens_top_ids.assign(size_t(r.lens_slots) * n * r.lens_k, 0);
          r.lens_top_probs.assign(r.lens_top_ids.size(), 0.0f);
        }
        Array(ki, where + "[]", size_t(r.lens_k));
        const json& kp = Array(probs[s][c], "lens.top_probs[][]", size_t(r.lens_k));
        for (int k = 0; k < r.lens_k; ++k) {
          const size_t at = (s * n + size_t(columns[c])) * r.lens_k + k;
          r.lens_top_ids[at] = Int(ki[size_t(k)], where + "[][]", 0, INT32_MAX);
          r.lens_top_probs[at] = Number(kp[size_t(k)], "lens.top_probs[][][]");
        }
      }
    }
    // The engine names each guess (top_texts, same shape as top_ids): the view shows text,
    // not "id:N", for tokens that appear nowhere else in the result.
    if (lens.contains("top_texts")) {
      const json& texts = Array(lens["top_texts"], "lens.top_texts", ids.size());
      for (size_t s = 0; s < texts.size(); ++s) {
        const json& rows = Array(texts[s], "lens.top_texts[]", m);
        for (size_t c = 0; c < m; ++c) {
          const json& ks = Array(rows[c], "lens.top_texts[][]", size_t(r.lens_k));
          for (int k = 0; k < r.lens_k; ++k)
            r.vocab.emplace(r.LensId(int(s), columns[c], k), String(ks[size_t(k)], "lens.top_texts[][][]"));
        }
      }
    }
    if (lens.contains("chosen")) {
      const json& chosen = Array(lens["chosen"], "lens.chosen", m);
      r.lens_chosen.assign(size_t(n), ExplainToken{});
      for (size_t c = 0; c < m; ++c) {
        const json& e = chosen[c];
        ExplainToken t{Int(Field(e, "id", "lens.chosen[]"), "lens.chosen[].id", 0, INT32_MAX), String(Field(e, "text", "lens.chosen[]"), "lens.chosen[].text")};
        r.vocab.emplace(t.id, t.text);
        r.lens_chosen[size_t(columns[c])] = std::move(t);
      }
    }
    if (lens.contains("chosen_probs")) {
      const json& cp = Array(lens["chosen_probs"], "lens.chosen_probs", size_t(r.lens_slots));
      r.lens_chosen_probs.assign(size_t(r.lens_slots) * n, 0.0f);
      for (size_t s = 0; s < cp.size(); ++s) {
        const json& row = Array(cp[s], "lens.chosen_probs[]", m);
        for (size_t c = 0; c < m; ++c) r.lens_chosen_probs[s * n + size_t(columns[c])] = Number(row[c], "lens.chosen_probs[][]");
      }
    }
  }

  // Token texts for the lens's ids: the statistics and the next-token list name them.
  auto learn = [&](const json& list) {
    if (!list.is_array()) return;
    for (const json& t : list)
      if (t.is_object() && t.contains("id") && t["id"].is_number_integer() && t.contains("text") && t["text"].is_string())
        r.vocab.emplace(t["id"].get<int>(), t["text"].get<std::string>());
  };
  if (j.contains("stats") && j["stats"].is_array()) {
    learn(j["stats"]);
    for (const json& s : j["stats"])
      if (s.is_object() && s.contains("top")) learn(s["top"]);
  }
  if (j.contains("next_token")) learn(j["next_token"]);

  if (j.contains("attribution")) {
    const json& a = j["attribution"];
    r.has_attribution = true;
    r.method = String(Field(a, "method", "attribution"), "attribution.method");
    r.target_position = Int(Field(a, "target_position", "attribution"), "attribution.target_position", 0, n - 1);
    r.target_id = Int(Field(a, "target_id", "attribution"), "attribution.target_id", 0, INT32_MAX);
    if (a.contains("target_text")) {
      r.target_text = String(a["target_text"], "attribution.target_text");
      r.vocab.emplace(r.target_id, r.target_text);
    }
    if (a.contains("contrast_id")) {
      r.contrast_id = Int(a["contrast_id"], "attribution.contrast_id", 0, INT32_MAX);
      if (a.contains("contrast_text")) r.contrast_text = String(a["contrast_text"], "attribution.contrast_text");
      r.vocab.emplace(r.contrast_id, r.contrast_text);
    }
    if (a.contains("value")) r.value = Number(a["value"], "attribution.value");
    if (a.contains("steps")) r.steps = Int(a["steps"], "attribution.steps", 0, 1 << 20);
    if (a.contains("completeness_gap")) r.completeness_gap = Number(a["completeness_gap"], "attribution.completeness_gap");
    const json& scores = Array(Field(a, "scores", "attribution"), "attribution.scores", SIZE_MAX);
    if (scores.size() > size_t(n)) Bad("attribution.scores has more entries than the prompt has tokens");
    for (const json& s : scores) r.scores.push_back(Number(s, "attribution.scores[]"));
  }
  return r;
}

}  // namespace

const float* ExplainResult::Attention(int layer, int head) const {
  const auto l = std::find(attention_layers.begin(), attention_layers.end(), layer);
  const auto h = std::find(attention_heads.begin(), attention_heads.end(), head);
  if (l == attention_layers.end() || h == attention_heads.end()) return nullptr;
  const size_t index = size_t(l - attention_layers.begin()) * attention_heads.size() + size_t(h - attention_heads.begin());
  return index < attention.size() ? attention[index].data() : nullptr;
}

std::string ExplainResult::TokenText(int id) const {
  const auto it = vocab.find(id);
  return it != vocab.end() ? it->second : "id:" + std::to_string(id);
}

std::optional<ExplainResult> ParseExplainResult(const json& result, std::string* error) {
  try {
    return Parse(result);
  } catch (const ParseError& e) {
    if (error) *error = std::string("The explanation could not be read: ") + e.what() + ".";
  } catch (const json::exception& e) {
    if (error) *error = std::string("The explanation could not be read: ") + e.what();
  } catch (const std::bad_alloc&) {
    if (error) *error = "The explanation is too large for the memory available.";
  }
  return std::nullopt;
}

ExplainResult SyntheticExplainResult(int layers, int heads, const std::vector<std::string>& texts) {
  ExplainResult r;
  r.model_name = "synthetic";
  r.n_layers = layers;
  r.n_heads = heads;
  const int n = int(texts.size());
  for (int i = 0; i < n; ++i) {
    r.tokens.push_back({100 + i, texts[size_t(i)]});
    r.vocab[100 + i] = texts[size_t(i)];
  }
  for (int l = 0; l < layers; ++l) r.attention_layers.push_back(l);
  for (int h = 0; h < heads; ++h) r.attention_heads.push_back(h);
  for (int l = 0; l < layers; ++l) {
    std::vector<float> mean(size_t(n) * n, 0.0f);
    for (int h = 0; h < heads; ++h) {
      std::vector<float> m(size_t(n) * n, 0.0f);
      const float prev = float((l + h) % 4) / 4.0f, first = float((l * 3 + h) % 5) / 5.0f;
      for (int q = 0; q < n; ++q) {
        float sum = 0;
        for (int k = 0; k <= q; ++k) {
          float w = 0.05f + (k == q - 1 ? 4.0f * prev : 0.0f) + (k == 0 ? 3.0f * first : 0.0f) + (k == q ? 1.0f : 0.0f);
          m[size_t(q) * n + k] = w;
          sum += w;
        }
        for (int k = 0; k <= q; ++k) m[size_t(q) * n + k] /= sum;
      }
      for (size_t i = 0; i < m.size(); ++i) mean[i] += m[i] / float(heads);
      r.attention.push_back(std::move(m));
      r.heads.push_back({1.0f + 0.1f * float(h), prev, first, float(h % 3) / 3.0f});
    }
    r.mean.push_back(mean);
    r.rollout.push_back(std::move(mean));
  }
  r.lens_slots = layers + 1;
  r.lens_k = 3;
  for (int s = 0; s < r.lens_slots; ++s)
    for (int p = 0; p < n; ++p)
      for (int k = 0; k < r.lens_k; ++k) {
        r.lens_top_ids.push_back(100 + (p + 1 + k + (s < layers / 2 ? s : 0)) % n);
        const float confidence = 0.1f + 0.85f * float(s) / float(std::max(1, layers));
        r.lens_top_probs.push_back(k == 0 ? confidence : (1.0f - confidence) / float(k + 2));
      }
  r.lens_held.assign(size_t(n), 1);
  for (int p = 0; p < n; ++p) r.lens_chosen.push_back({100 + (p + 1) % n, texts[size_t((p + 1) % n)]});
  for (int s = 0; s < r.lens_slots; ++s)
    for (int p = 0; p < n; ++p) r.lens_chosen_probs.push_back(r.LensProb(s, p, 0));
  r.has_attribution = true;
  r.method = "grad_x_input";
  r.target_position = n - 1;
  r.target_id = 100;
  r.target_text = texts.empty() ? "" : texts[0];
  for (int p = 0; p < n; ++p) r.scores.push_back((p % 2 ? -0.3f : 0.8f) / float(n - p));
  return r;
}

bool MergeLens(ExplainResult& into, const ExplainResult& from) {
  if (!from.has_lens() || !into.has_lens() || from.n() != into.n() || from.lens_slots != into.lens_slots ||
      from.lens_k != into.lens_k)
    return false;
  for (int p = 0; p < into.n(); ++p)
    if (from.tokens[size_t(p)].id != into.tokens[size_t(p)].id) return false;
  const int n = into.n(), k = into.lens_k;
  if (into.lens_chosen.empty() && !from.lens_chosen.empty()) into.lens_chosen.assign(size_t(n), ExplainToken{});
  if (into.lens_chosen_probs.empty() && !from.lens_chosen_probs.empty()) into.lens_chosen_probs.assign(size_t(into.lens_slots) * n, 0.0f);
  for (int p = 0; p < n; ++p) {
    if (!from.LensHeld(p)) continue;
    for (int s = 0; s < into.lens_slots; ++s) {
      const size_t at = (size_t(s) * n + p) * k;
      std::copy_n(from.lens_top_ids.begin() + ptrdiff_t(at), k, into.lens_top_ids.begin() + ptrdiff_t(at));
      std::copy_n(from.lens_top_probs.begin() + ptrdiff_t(at), k, into.lens_top_probs.begin() + ptrdiff_t(at));
      if (!from.lens_chosen_probs.empty() && !into.lens_chosen_probs.empty())
        into.lens_chosen_probs[size_t(s) * n + p] = from.lens_chosen_probs[size_t(s) * n + p];
    }
    if (!from.lens_chosen.empty() && !into.lens_chosen.empty()) into.lens_chosen[size_t(p)] = from.lens_chosen[size_t(p)];
    into.lens_held[size_t(p)] = 1;
  }
  for (const auto& [id, text] : from.vocab) into.vocab.emplace(id, text);
  return true;
}

std::string DisplayToken(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ' ') out += "\xc2\xb7";  // U+00B7 middle dot
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out.empty() ? "''" : out;  // an empty token
}

}  // namespace loupe::app
