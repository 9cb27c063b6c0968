// The one error type the engine throws. Every failure a user can cause (a bad file, a bad
// request) becomes a loupe::Error with a message written for that user; callers at the
// edges (CLI, app, JS API) catch it and show the message.
#pragma once
#include <stdexcept>
#include <string>

namespace loupe {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace loupe
