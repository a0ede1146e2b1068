// A main() for the fuzz targets built without libFuzzer (any compiler): runs
// every file named on the command line, or found in a named folder, through
// LLVMFuzzerTestOneInput once. CI replays the corpus and every crash found
// this way, so a fixed crash stays fixed without clang in CI.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::cerr << p.string() << ": no such file or folder\n";
      return 2;
    }
  }
  if (files.empty()) {
    std::cerr << "no inputs to replay (a replay that runs nothing must not pass)\n";
    return 2;
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::cout << "replayed " << files.size() << " inputs\n";
  return 0;
}
