// map_file: mmap natively so loading a model costs no copy and pages arrive on demand;
// a plain read under Emscripten, whose mmap would copy anyway.
#include "core/file_bytes.h"

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
struct Mapping {
  void* address = nullptr;
  size_t length = 0;
  ~Mapping() {
    if (address) munmap(address, length);
  }
};
}  // namespace

FileBytes map_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open '" + path + "': " + std::strerror(errno));
  struct stat info{};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    fail("'" + path + "' is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->length = size_t(info.st_size);
  if (mapping->length > 0) {
    void* address = mmap(nullptr, mapping->length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      close(fd);
      fail("cannot map '" + path + "': " + std::strerror(errno));
    }
    mapping->address = address;
  }
  close(fd);
  FileBytes result;
  result.bytes = {static_cast<const uint8_t*>(mapping->address), mapping->length};
  result.owner = std::move(mapping);
  return result;
}
#else
FileBytes map_file(const std::string& path) {
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
