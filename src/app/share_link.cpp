#include "share_link.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace loupe::app {

namespace {

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Shortest text that reads back as the same double.
std::string FormatDouble(double x) {
  char buffer[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, x);
    if (std::strtod(buffer, nullptr) == x) break;
  }
  return buffer;
}

void Add(std::string& out, const char* key, const std::string& value) {
  out += '&';
  out += key;
  out += '=';
  out += PercentEncode(value);
}

bool ParseInt(std::string_view s, long long lo, long long hi, long long* out) {
  if (s.empty() || s.size() > 20) return false;
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseDouble(std::string_view s, double lo, double hi, double* out) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return false;
  const std::string copy(s);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v) || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (Unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (c == '+') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + size_t(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    static const uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += size_t(extra) + 1;
  }
  return true;
}

std::string EncodeShareFragment(const ShareState& s) {
  std::string out = "v=" + std::to_string(kShareLinkVersion);
  if (!s.view.empty()) Add(out, "view", s.view);
  if (!s.model.empty()) Add(out, "model", s.model);
  if (!s.prompt.empty()) Add(out, "prompt", s.prompt);
  if (s.seed) Add(out, "seed", std::to_string(*s.seed));
  if (s.temperature) Add(out, "temperature", FormatDouble(*s.temperature));
  if (s.top_k) Add(out, "top_k", std::to_string(*s.top_k));
  if (s.top_p) Add(out, "top_p", FormatDouble(*s.top_p));
  if (s.min_p) Add(out, "min_p", FormatDouble(*s.min_p));
  if (s.repeat_penalty) Add(out, "repeat_penalty", FormatDouble(*s.repeat_penalty));
  if (s.max_tokens) Add(out, "max_tokens", std::to_string(*s.max_tokens));
  if (s.token) Add(out, "token", std::to_string(*s.token));
  if (s.layer) Add(out, "layer", std::to_string(*s.layer));
  if (s.head) Add(out, "head", std::to_string(*s.head));
  if (!s.method.empty()) Add(out, "method", s.method);
  return out;
}

ShareDecode DecodeShareFragment(std::string_view fragment) {
  ShareDecode result;
  if (!fragment.empty() && fragment[0] == '#') fragment.remove_prefix(1);
  if (fragment.empty()) {
    result.empty = true;
    return result;
  }
  auto fail = [&](std::string message) {
    result.ok = false;
    result.state = ShareState{};
    result.error = std::move(message);
    return result;
  };
  if (fragment.size() > kMaxShareFragment)
    return fail("This link is too long to be a Loupe link (" + std::to_string(fragment.size()) + " characters); it was ignored.");

  // Split into key=value pairs.
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  size_t start = 0;
  while (start <= fragment.size()) {
    size_t end = fragment.find('&', start);
    if (end == std::string_view::npos) end = fragment.size();
    const std::string_view part = fragment.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos) return fail("This link is damaged: \"" + std::string(part.substr(0, 40)) + "\" has no value.");
      pairs.emplace_back(part.substr(0, eq), part.substr(eq + 1));
    }
    start = end + 1;
  }
  if (pairs.empty() || pairs[0].first != "v")
    return fail("This link does not start with a Loupe version (v=1); it may have been cut or changed.");
  long long version = 0;
  if (!ParseInt(pairs[0].second, 0, 1000000, &version))
    return fail("This link's version is not a number; it may have been cut or changed.");
  if (version != kShareLinkVersion)
    return fail("This link was made by a different version of Loupe (link version " + std::to_string(version) +
                ", this Loupe reads version " + std::to_string(kShareLinkVersion) + ").");

  ShareState& s = result.state;
  for (size_t i = 1; i < pairs.size(); ++i) {
    const std::string key(pairs[i].first.substr(0, 40));
    const std::optional<std::string> value = PercentDecode(pairs[i].second);
    if (!value) return fail("This link is damaged: the value of \"" + key + "\" has a broken %-escape.");
    if (!ValidUtf8(*value)) return fail("This link is damaged: the value of \"" + key + "\" is not valid UTF-8 text.");
    const std::string& v = *value;
    long long n = 0;
    double d = 0;
    auto bad = [&](const char* what) { return fail("This link is damaged: \"" + key + "\" should be " + what + "."); };
    if (key == "view") {
      if (v.size() > 64) return bad("a view name");
      s.view = v;
    } else if (key == "model") {
      if (v.size() > 4096) return bad("a model name or URL of at most 4096 characters");
      s.model = v;
    } else if (key == "prompt") {
      if (v.size() > kMaxSharePrompt) return bad("a prompt of at most 16 KiB");
      s.prompt = v;
    } else if (key == "seed") {
      if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos) return bad("a whole number");
      uint64_t seed = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seed);
      if (ec != std::errc() || end != v.data() + v.size()) return bad("a whole number below 2^64");
      s.seed = seed;
    } else if (key == "temperature") {
      if (!ParseDouble(v, 0, 100, &d)) return bad("a temperature from 0 to 100");
      s.temperature = d;
    } else if (key == "top_p" || key == "min_p") {
      if (!ParseDouble(v, 0, 1, &d)) return bad("a probability from 0 to 1");
      (key == "top_p" ? s.top_p : s.min_p) = d;
    } else if (key == "repeat_penalty") {
      if (!ParseDouble(v, 0, 100, &d)) return bad("a number from 0 to 100");
      s.repeat_penalty = d;
    } else if (key == "top_k" || key == "max_tokens") {
      if (!ParseInt(v, 0, 1 << 20, &n)) return bad("a whole number from 0 to 1048576");
      (key == "top_k" ? s.top_k : s.max_tokens) = int(n);
    } else if (key == "token" || key == "layer" || key == "head") {
      if (!ParseInt(v, 0, 1 << 20, &n)) return bad("a position from 0 up");
      (key == "token" ? s.token : key == "layer" ? s.layer : s.head) = int(n);
    } else if (key == "method") {
      if (v != "grad_x_input" && v != "integrated_gradients" && v != "occlusion")
        return bad("grad_x_input, integrated_gradients or occlusion");
      s.method = v;
    }
    // Unknown keys: a newer Loupe's additions, skipped.
  }
  result.ok = true;
  return result;
}

}  // namespace loupe::app
