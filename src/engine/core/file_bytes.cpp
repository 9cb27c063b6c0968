// read_file_bytes: the file read into memory of the process's own, which the loader may rewrite
// (it packs weight matrices in place, kernels/packed.h): natively into anonymous memory
// in huge pages, under Emscripten into a vector.
#include "core/file_bytes.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

#if !defined(__EMSCRIPTEN__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace loupe {

#if !defined(__EMSCRIPTEN__)
namespace {
// Anonymous memory in 2 MB pages where the kernel allows it: a model's weights are
// streamed once per generated token, and huge pages spare the TLB ~30,000 misses a pass.
struct Buffer {
  void* address = nullptr;
  size_t length = 0;
  ~Buffer() {
    if (address) munmap(address, length);
  }
};
constexpr size_t kHugePage = size_t(2) << 20;
}  // namespace

FileBytes read_file_bytes(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open '" + path + "': " + std::strerror(errno));
  struct stat info{};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    fail("'" + path + "' is not a regular file");
  }
  const size_t size = size_t(info.st_size);
  auto buffer = std::make_shared<Buffer>();
  if (size > 0) {
    buffer->length = (size + kHugePage - 1) / kHugePage * kHugePage;
    void* address = mmap(nullptr, buffer->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (address == MAP_FAILED) {
      close(fd);
      fail("cannot allocate " + std::to_string(size >> 20) + " MB for '" + path + "': " + std::strerror(errno));
    }
    buffer->address = address;
#ifdef MADV_HUGEPAGE
    madvise(address, buffer->length, MADV_HUGEPAGE);
#endif
    size_t done = 0;
    while (done < size) {
      const ssize_t got = read(fd, static_cast<uint8_t*>(address) + done, std::min<size_t>(size - done, size_t(1) << 30));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        const std::string reason = got < 0 ? std::strerror(errno) : "the file ended early";
        close(fd);
        fail("cannot read '" + path + "': " + reason);
      }
      done += size_t(got);
    }
  }
  close(fd);
  FileBytes result;
  result.bytes = {static_cast<const uint8_t*>(buffer->address), size};
  result.owner = std::move(buffer);
  return result;
}
#else
FileBytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '" + path + "'");
  auto data = std::make_shared<std::vector<uint8_t>>(std::istreambuf_iterator<char>(in),
                                                     std::istreambuf_iterator<char>());
  FileBytes result;
  result.bytes = {data->data(), data->size()};
  result.owner = std::move(data);
  return result;
}
#endif

}  // namespace loupe
