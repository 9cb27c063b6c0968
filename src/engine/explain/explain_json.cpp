// explain_json: runs what a request asks for and lays the results out as JSON;
// explain_csv_tables: the same results as one CSV table per section.
#include "explain/explain_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "sampling/generate.h"

namespace loupe::explain {

using json = nlohmann::json;

namespace {

const std::set<std::string> kSections = {"attention", "lens", "stats", "heads", "attribution", "compare"};

// 6 significant digits: keeps the JSON short (0.1f prints as 0.1, not 0.10000000149011612).
double r6(double x) {
  if (x == 0 || !std::isfinite(x)) return std::isfinite(x) ? 0.0 : x;
  const int exponent = 5 - int(std::floor(std::log10(std::fabs(x))));
  if (exponent >= 0 && exponent <= 22) {
    const double scale = std::pow(10.0, exponent);
    return std::round(x * scale) / scale;
  }
  if (exponent < 0 && exponent >= -22) {
    const double scale = std::pow(10.0, -exponent);
    return std::round(x / scale) * scale;
  }
  return x;
}

std::string token_text(const Tokenizer& tok, int32_t id) { return sanitize_utf8(token_to_bytes(tok, id)); }

json token_json(const Tokenizer& tok, int32_t id) { return {{"id", id}, {"text", token_text(tok, id)}}; }

// A (rows, cols) block of a flat array as nested arrays.
json matrix(const float* data, int rows, int cols) {
  json m = json::array();
  for (int r = 0; r < rows; ++r) {
    json row = json::array();
    for (int c = 0; c < cols; ++c) row.push_back(r6(data[size_t(r) * cols + c]));
    m.push_back(std::move(row));
  }
  return m;
}

bool wants(const ExplainRequest& r, const std::string& section) {
  return std::find(r.what.begin(), r.what.end(), section) != r.what.end();
}

}  // namespace

int32_t parse_token(const Tokenizer& tok, const std::string& spec, const char* what) {
  std::string digits = spec.rfind("id:", 0) == 0 ? spec.substr(3) : spec;
  if (!digits.empty() && digits.size() < 10 && std::all_of(digits.begin(), digits.end(), [](char ch) { return std::isdigit((unsigned char)ch); })) {
    const int32_t id = std::stoi(digits);
    if (id >= tok.n_vocab())
      fail(std::string("the ") + what + " token id " + digits + " is outside the vocabulary (" + std::to_string(tok.n_vocab()) + " tokens)");
    return id;
  }
  if (spec.rfind("id:", 0) == 0) fail(std::string("the ") + what + " token '" + spec + "' is not a token id");
  if (spec.empty()) fail(std::string("the ") + what + " token is empty");
  // A token whose text is exactly `spec` (" he" finds GPT-2's "Ġhe" and SentencePiece's "▁he").
  for (int32_t id = 0; id < tok.n_vocab(); ++id)
    if (token_to_bytes(tok, id) == spec) return id;
  const std::vector<int32_t> ids = encode(tok, spec, /*add_bos=*/false, /*parse_special=*/true);
  if (ids.size() != 1)
    fail(std::string("the ") + what + " token '" + spec + "' is " + std::to_string(ids.size()) +
         " tokens, not one (mind the leading space: \" he\" and \"he\" differ; or give an id as id:N)");
  return ids[0];
}

std::vector<std::string> parse_sections(const std::string& list) {
  std::vector<std::string> sections;
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    name.erase(std::remove_if(name.begin(), name.end(), [](char ch) { return std::isspace((unsigned char)ch); }), name.end());
    if (name.empty()) continue;
    if (!kSections.count(name))
      fail("unknown section '" + name + "': choose from attention, lens, attribution, stats, heads, compare");
    sections.push_back(name);
  }
  if (sections.empty()) fail("no sections asked for: choose from attention, lens, attribution, stats, heads");
  return sections;
}

json explain_json(const ExplainRequest& r) {
  if (!r.model) fail("explain: no model");
  const Model& model = *r.model;
  const ModelConfig& c = model.config;
  const Tokenizer& tok = model.tokenizer;
  for (const std::string& s : r.what)
    if (!kSections.count(s)) fail("unknown section '" + s + "': choose from attention, lens, attribution, stats, heads, compare");
  if (r.top_k < 1 || r.top_k > 1000) fail("top-k must be between 1 and 1000, not " + std::to_string(r.top_k));
  if (r.layer >= c.n_layers || r.layer < -1)
    fail("layer " + std::to_string(r.layer) + " is out of range: the model has layers 0.." + std::to_string(c.n_layers - 1));
  if (r.head >= c.n_heads || r.head < -1)
    fail("head " + std::to_string(r.head) + " is out of range: the model has heads 0.." + std::to_string(c.n_heads - 1));

  const std::vector<int32_t> ids = r.ids.empty() ? prompt_tokens(model, r.prompt, false, r.add_bos) : r.ids;
  const int n = int(ids.size());
  if (n == 0) fail("the prompt has no tokens");
  if (n > c.context_length)
    fail("the prompt is " + std::to_string(n) + " tokens long, but the model's context holds " + std::to_string(c.context_length));

  json out;
  out["model"] = {{"name", model.info.name}, {"architecture", architecture_name(c.arch)}, {"n_layers", c.n_layers},
                  {"n_heads", c.n_heads}, {"n_kv_heads", c.n_kv_heads}, {"dim", c.dim}, {"vocab_size", c.vocab_size},
                  {"context_length", c.context_length}};
  out["tokens"] = json::array();
  for (int32_t id : ids) out["tokens"].push_back(token_json(tok, id));

  // Parse the attribution's tokens before the long work, so a bad request fails at once.
  AttributionRequest attribution = r.attribution;
  if (wants(r, "attribution")) {
    if (!r.method.empty()) attribution.method = parse_method(r.method);
    if (!r.target_token.empty()) attribution.target = parse_token(tok, r.target_token, "target");
    if (!r.contrast_token.empty()) attribution.contrast = parse_token(tok, r.contrast_token, "contrast");
    if (r.baseline_token == "zero") {
      attribution.baseline = AttributionRequest::Baseline::Zero;
    } else if (r.baseline_token == "neutral") {
      attribution.baseline = AttributionRequest::Baseline::Neutral;
    } else if (!r.baseline_token.empty()) {
      attribution.baseline = AttributionRequest::Baseline::Token;
      attribution.baseline_token = parse_token(tok, r.baseline_token, "baseline");
    }
    if (!r.replacement_token.empty()) attribution.replacement = parse_token(tok, r.replacement_token, "replacement");
    if (attribution.position >= n)
      fail("the target position " + std::to_string(attribution.position) + " is outside the prompt (" + std::to_string(n) + " tokens)");
  }

  const bool need_attention = wants(r, "attention") || wants(r, "heads");
  // Gradient x input reads the trace's activations instead of running a pass of its own.
  const bool gradient_inputs =
      wants(r, "attribution") && attribution.method == Method::GradXInput && !r.exact_gradients;
  const Trace t = trace(model, ids, need_attention, wants(r, "lens"), gradient_inputs);
  const size_t nn = size_t(n) * n;

  if (wants(r, "attention")) {
    json layers = json::array(), layer_ids = json::array(), head_ids = json::array();
    for (int l = 0; l < c.n_layers; ++l) {
      if (r.layer >= 0 && l != r.layer) continue;
      layer_ids.push_back(l);
      json heads = json::array();
      for (int h = 0; h < c.n_heads; ++h) {
        if (r.head >= 0 && h != r.head) continue;
        heads.push_back(matrix(t.capture.attention.data() + (size_t(l) * c.n_heads + h) * nn, n, n));
      }
      layers.push_back(std::move(heads));
    }
    for (int h = 0; h < c.n_heads; ++h)
      if (r.head < 0 || h == r.head) head_ids.push_back(h);
    out["attention"] = std::move(layers);
    out["attention_layers"] = std::move(layer_ids);
    out["attention_heads"] = std::move(head_ids);
    if (r.attention_summaries) {
      const std::vector<float> mean = attention_mean(c, t), rollout = attention_rollout(c, t);
      const std::vector<float> weighted = attention_value_weighted(model, t);
      json jm = json::array(), jr = json::array(), jw = json::array();
      for (int l = 0; l < c.n_layers; ++l) {
        jm.push_back(matrix(mean.data() + size_t(l) * nn, n, n));
        jr.push_back(matrix(rollout.data() + size_t(l) * nn, n, n));
        json heads = json::array();
        for (int h = 0; h < c.n_heads; ++h) heads.push_back(matrix(weighted.data() + (size_t(l) * c.n_heads + h) * nn, n, n));
        jw.push_back(std::move(heads));
      }
      out["attention_summary"] = {{"mean", std::move(jm)}, {"rollout", std::move(jr)}, {"value_weighted", std::move(jw)}};
    }
  }

  if (wants(r, "stats")) {
    const std::vector<TokenStat> stats = token_statistics(t.logits, c.vocab_size, ids, r.top_k);
    json js = json::array();
    json counts = {{"top10", 0}, {"top100", 0}, {"top1000", 0}, {"rest", 0}};
    for (const TokenStat& s : stats) {
      json top = json::array();
      for (const TokenProb& p : s.top) top.push_back({{"id", p.id}, {"text", token_text(tok, p.id)}, {"prob", r6(p.prob)}});
      const char* bucket = rank_bucket(s.rank);
      counts[bucket] = counts[bucket].get<int>() + 1;
      js.push_back({{"position", s.position}, {"id", s.id}, {"text", token_text(tok, s.id)}, {"prob", r6(s.prob)},
                    {"rank", s.rank}, {"surprisal_bits", r6(s.surprisal_bits)}, {"entropy_bits", r6(s.entropy_bits)},
                    {"bucket", bucket}, {"top", std::move(top)}});
    }
    out["stats"] = std::move(js);
    out["gltr_counts"] = std::move(counts);
    // What the model expects after the whole prompt.
    json next = json::array();
    for (const TokenProb& p : top_k_probs(t.logits.data() + size_t(n - 1) * c.vocab_size, c.vocab_size, r.top_k))
      next.push_back({{"id", p.id}, {"text", token_text(tok, p.id)}, {"prob", r6(p.prob)}});
    out["next_token"] = std::move(next);
  }

  if (wants(r, "lens")) {
    // The positions asked for, else the last lens_last of them, else every one.
    std::vector<int> positions = r.lens_positions;
    if (r.lens_last < 0) fail("lens_last must be 0 or more, not " + std::to_string(r.lens_last));
    if (positions.empty() && r.lens_last > 0)
      for (int p = std::max(0, n - r.lens_last); p < n; ++p) positions.push_back(p);
    const LogitLens lens = logit_lens(model, t, r.top_k, positions);
    json ids_j = json::array(), texts_j = json::array(), probs_j = json::array(), chosen_probs = json::array();
    for (int s = 0; s < lens.slots; ++s) {
      json li = json::array(), lt = json::array(), lp = json::array(), cp = json::array();
      for (int pos = 0; pos < lens.n; ++pos) {
        json ki = json::array(), kt = json::array(), kp = json::array();
        for (int k = 0; k < lens.k; ++k) {
          const size_t at = (size_t(s) * lens.n + pos) * lens.k + k;
          ki.push_back(lens.top_ids[at]);
          kt.push_back(token_text(tok, lens.top_ids[at]));
          kp.push_back(r6(lens.top_probs[at]));
        }
        li.push_back(std::move(ki));
        lt.push_back(std::move(kt));
        lp.push_back(std::move(kp));
        cp.push_back(r6(lens.chosen_probs[size_t(s) * lens.n + pos]));
      }
      ids_j.push_back(std::move(li));
      texts_j.push_back(std::move(lt));
      probs_j.push_back(std::move(lp));
      chosen_probs.push_back(std::move(cp));
    }
    json chosen = json::array();
    for (int32_t id : lens.chosen_ids) chosen.push_back(token_json(tok, id));
    out["lens"] = {{"layers", lens.slots}, {"top_ids", std::move(ids_j)}, {"top_texts", std::move(texts_j)},
                   {"top_probs", std::move(probs_j)}, {"chosen", std::move(chosen)}, {"chosen_probs", std::move(chosen_probs)}};
    if (!positions.empty()) out["lens"]["positions"] = lens.positions;  // [position] indexes these
  }

  if (wants(r, "heads")) {
    const std::vector<HeadStat> heads = head_statistics(model, t, r.seed, r.induction_half);
    json jh = json::array();
    for (int l = 0; l < c.n_layers; ++l) {
      json row = json::array();
      for (int h = 0; h < c.n_heads; ++h) {
        const HeadStat& s = heads[size_t(l) * c.n_heads + h];
        row.push_back({{"entropy", r6(s.entropy_bits)}, {"prev_token", r6(s.prev_token)},
                       {"first_token", r6(s.first_token)}, {"induction", r6(s.induction)}});
      }
      jh.push_back(std::move(row));
    }
    out["heads"] = std::move(jh);
    out["heads_seed"] = r.seed;
  }

  if (wants(r, "attribution")) {
    // The default target at the last position is the model's top guess there: the trace
    // already has those logits (the same bits a pass over the text gives), so attribute()
    // need not run the inference pass again to find it.
    const int position = attribution.position < 0 ? n - 1 : attribution.position;
    if (attribution.target < 0 && position == n - 1) {
      const float* row = t.logits.data() + size_t(n - 1) * c.vocab_size;
      attribution.target = int32_t(std::max_element(row, row + c.vocab_size) - row);
    }
    const Attribution a = attribute(model, ids, attribution, r.params, gradient_inputs ? &t : nullptr, r.backward);
    json ja = {{"method", method_name(a.method)}, {"target_position", a.position}, {"target_id", a.target},
               {"target_text", token_text(tok, a.target)}, {"value", r6(a.value)}, {"scores", json::array()}};
    // Which backward pass made the gradients: from the inference pass on 8-bit weights, or f32.
    if (a.method != Method::Occlusion) ja["backward"] = gradient_inputs ? "int8" : "f32";
    for (float s : a.scores) ja["scores"].push_back(r6(s));
    if (a.contrast >= 0) {
      ja["contrast_id"] = a.contrast;
      ja["contrast_text"] = token_text(tok, a.contrast);
    }
    if (a.method == Method::IntegratedGradients) {
      ja["steps"] = a.steps;
      ja["baseline"] = a.baseline_token < 0 ? json("zero") : token_json(tok, a.baseline_token);
      ja["baseline_value"] = r6(a.baseline_value);
      ja["completeness_gap"] = r6(a.completeness_gap);
    }
    if (a.method == Method::Occlusion)
      ja["occlusion"] = attribution.replacement < 0 ? json("remove") : token_json(tok, attribution.replacement);
    out["attribution"] = std::move(ja);
  }

  if (r.compare) {
    const Comparison cmp = compare_models(model, *r.compare, ids);
    json jc = {{"model", r.compare->info.name}, {"kl", json::array()}, {"top1_agree", json::array()}};
    for (float k : cmp.kl_bits) jc["kl"].push_back(r6(k));
    for (uint8_t a : cmp.top1_agree) jc["top1_agree"].push_back(bool(a));
    if (!cmp.residual_rel_diff.empty()) {
      jc["residual_rel_diff"] = json::array();
      for (float d : cmp.residual_rel_diff) jc["residual_rel_diff"].push_back(r6(d));
      json att = json::array();
      for (int l = 0; l < c.n_layers; ++l) {
        json row = json::array();
        for (int h = 0; h < c.n_heads; ++h) row.push_back(r6(cmp.attention_diff[size_t(l) * c.n_heads + h]));
        att.push_back(std::move(row));
      }
      jc["attention_diff"] = std::move(att);
    }
    out["compare"] = std::move(jc);
  }
  return out;
}

// ============================================================================================
// CSV

namespace {

std::string csv_text(const std::string& s) {
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}
std::string num(const json& v) { return v.dump(); }

}  // namespace

std::vector<std::pair<std::string, std::string>> explain_csv_tables(const json& j) {
  std::vector<std::pair<std::string, std::string>> tables;
  const json& tokens = j.at("tokens");
  auto text_of = [&](int pos) { return csv_text(tokens.at(size_t(pos)).at("text").get<std::string>()); };
  {
    std::string s = "position,id,text\n";
    for (size_t i = 0; i < tokens.size(); ++i) s += std::to_string(i) + "," + num(tokens[i]["id"]) + "," + text_of(int(i)) + "\n";
    tables.emplace_back("tokens", s);
  }
  if (j.contains("attention")) {  // long format: one row per (layer, head, query, key <= query)
    std::string s = "layer,head,query,key,weight\n";
    const json& layers = j["attention"];
    for (size_t li = 0; li < layers.size(); ++li)
      for (size_t hi = 0; hi < layers[li].size(); ++hi) {
        const json& m = layers[li][hi];
        for (size_t q = 0; q < m.size(); ++q)
          for (size_t k = 0; k <= q; ++k)
            s += num(j["attention_layers"][li]) + "," + num(j["attention_heads"][hi]) + "," + std::to_string(q) + "," +
                 std::to_string(k) + "," + num(m[q][k]) + "\n";
      }
    tables.emplace_back("attention", s);
  }
  if (j.contains("stats")) {
    std::string s = "position,id,text,prob,rank,surprisal_bits,entropy_bits,bucket,top_ids,top_probs\n";
    for (const json& st : j["stats"]) {
      std::string ids, probs;
      for (const json& t : st["top"]) {
        if (!ids.empty()) ids += ' ';
        if (!probs.empty()) probs += ' ';
        ids += num(t["id"]);
        probs += num(t["prob"]);
      }
      s += num(st["position"]) + "," + num(st["id"]) + "," + csv_text(st["text"].get<std::string>()) + "," + num(st["prob"]) +
           "," + num(st["rank"]) + "," + num(st["surprisal_bits"]) + "," + num(st["entropy_bits"]) + "," +
           st["bucket"].get<std::string>() + "," + ids + "," + probs + "\n";
    }
    tables.emplace_back("stats", s);
  }
  if (j.contains("lens")) {  // one row per (layer slot, position, rank)
    std::string s = "layer,position,rank,id,prob,chosen_id,chosen_prob,text\n";
    const json& lens = j["lens"];
    const bool texts = lens.contains("top_texts"), subset = lens.contains("positions");
    for (size_t l = 0; l < lens["top_ids"].size(); ++l)
      for (size_t p = 0; p < lens["top_ids"][l].size(); ++p)
        for (size_t k = 0; k < lens["top_ids"][l][p].size(); ++k)
          s += std::to_string(l) + "," + (subset ? num(lens["positions"][p]) : std::to_string(p)) + "," + std::to_string(k + 1) + "," + num(lens["top_ids"][l][p][k]) +
               "," + num(lens["top_probs"][l][p][k]) + "," + num(lens["chosen"][p]["id"]) + "," + num(lens["chosen_probs"][l][p]) +
               "," + (texts ? csv_text(lens["top_texts"][l][p][k].get<std::string>()) : std::string("\"\"")) + "\n";
    tables.emplace_back("lens", s);
  }
  if (j.contains("heads")) {
    std::string s = "layer,head,entropy,prev_token,first_token,induction\n";
    for (size_t l = 0; l < j["heads"].size(); ++l)
      for (size_t h = 0; h < j["heads"][l].size(); ++h) {
        const json& x = j["heads"][l][h];
        s += std::to_string(l) + "," + std::to_string(h) + "," + num(x["entropy"]) + "," + num(x["prev_token"]) + "," +
             num(x["first_token"]) + "," + num(x["induction"]) + "\n";
      }
    tables.emplace_back("heads", s);
  }
  if (j.contains("attribution")) {
    const json& a = j["attribution"];
    std::string s = "position,id,text,score,method,target_position,target_id\n";
    for (size_t i = 0; i < a["scores"].size(); ++i)
      s += std::to_string(i) + "," + num(tokens[i]["id"]) + "," + text_of(int(i)) + "," + num(a["scores"][i]) + "," +
           a["method"].get<std::string>() + "," + num(a["target_position"]) + "," + num(a["target_id"]) + "\n";
    tables.emplace_back("attribution", s);
  }
  if (j.contains("compare")) {
    const json& cmp = j["compare"];
    std::string s = "position,kl_bits,top1_agree\n";
    for (size_t i = 0; i < cmp["kl"].size(); ++i)
      s += std::to_string(i) + "," + num(cmp["kl"][i]) + "," + (cmp["top1_agree"][i].get<bool>() ? "1" : "0") + "\n";
    tables.emplace_back("compare", s);
    if (cmp.contains("residual_rel_diff")) {
      std::string r = "layer,residual_rel_diff\n";
      for (size_t i = 0; i < cmp["residual_rel_diff"].size(); ++i) r += std::to_string(i) + "," + num(cmp["residual_rel_diff"][i]) + "\n";
      tables.emplace_back("compare_layers", r);
    }
  }
  return tables;
}

}  // namespace loupe::explain
