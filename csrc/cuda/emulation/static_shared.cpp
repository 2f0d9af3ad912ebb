#include "static_shared.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>  // ElfW
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

namespace siren_fused::cuda_emulation {

namespace {

// The symbols of one loaded binary that the lookups need: functions by address, and the
// function-local statics (mangled `_ZZ...`) by name.
struct BinarySymbols {
  std::string error;
  std::unordered_map<uintptr_t, std::string> functions;
  std::map<std::string, SharedArray, std::less<>> local_statics;
};

BinarySymbols read_symbols(const char* path, uintptr_t load_base) {
  BinarySymbols symbols;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    symbols.error = std::string("cannot open ") + path + " to read its symbol table";
    return symbols;
  }
  void* mapped = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) {
    symbols.error = std::string("cannot map ") + path;
    return symbols;
  }
  const auto* bytes = static_cast<const unsigned char*>(mapped);
  const auto* header = reinterpret_cast<const ElfW(Ehdr)*>(bytes);
  const auto* sections = reinterpret_cast<const ElfW(Shdr)*>(bytes + header->e_shoff);
  // Shared objects and position-independent executables store addresses relative to their base.
  const uintptr_t base = header->e_type == ET_EXEC ? 0 : load_base;
  bool found = false;
  for (int s = 0; s < header->e_shnum; ++s) {
    if (sections[s].sh_type != SHT_SYMTAB) continue;
    found = true;
    const auto* table = reinterpret_cast<const ElfW(Sym)*>(bytes + sections[s].sh_offset);
    const char* names = reinterpret_cast<const char*>(bytes + sections[sections[s].sh_link].sh_offset);
    const size_t count = sections[s].sh_size / sizeof(ElfW(Sym));
    for (size_t i = 0; i < count; ++i) {
      const ElfW(Sym)& sym = table[i];
      if (sym.st_shndx == SHN_UNDEF) continue;
      const char* name = names + sym.st_name;
      const uintptr_t address = base + sym.st_value;
      if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC) {
        symbols.functions.emplace(address, name);
      } else if (ELF64_ST_TYPE(sym.st_info) == STT_OBJECT && std::strncmp(name, "_ZZ", 3) == 0) {
        symbols.local_statics.emplace(name, SharedArray{reinterpret_cast<void*>(address), sym.st_size});
      }
    }
  }
  munmap(mapped, static_cast<size_t>(st.st_size));
  if (!found) {
    symbols.error = std::string(path) + " has no symbol table (stripped?); the CUDA emulation reads kernels' "
                    "static shared arrays from it";
  }
  return symbols;
}

// Itanium ABI: the statics of function `_Z<encoding>` are `_ZZ<encoding>E<name>...`; of an
// unmangled (extern "C") function f, `_ZZ<len>fE<name>...`.
std::string local_static_prefix(const std::string& function) {
  if (function.rfind("_Z", 0) == 0) return "_ZZ" + function.substr(2) + "E";
  return "_ZZ" + std::to_string(function.size()) + function + "E";
}

}  // namespace

const StaticShared& static_shared_of(const void* kernel) {
  static std::mutex mutex;
  static std::unordered_map<std::string, BinarySymbols> binaries;
  static std::unordered_map<const void*, StaticShared> kernels;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto cached = kernels.find(kernel);
  if (cached != kernels.end()) return cached->second;

  StaticShared& result = kernels[kernel];
  Dl_info info{};
  if (dladdr(kernel, &info) == 0 || info.dli_fname == nullptr) {
    result.error = "the kernel's address is in no loaded binary";
    return result;
  }
  // The main program may be named as it was invoked; /proc/self/exe is always its file.
  std::string path = info.dli_fname;
  if (path.empty() || access(path.c_str(), R_OK) != 0) path = "/proc/self/exe";
  auto binary = binaries.find(path);
  if (binary == binaries.end()) {
    binary = binaries.emplace(path, read_symbols(path.c_str(), reinterpret_cast<uintptr_t>(info.dli_fbase))).first;
  }
  const BinarySymbols& symbols = binary->second;
  if (!symbols.error.empty()) {
    result.error = symbols.error;
    return result;
  }
  const auto function = symbols.functions.find(reinterpret_cast<uintptr_t>(kernel));
  if (function == symbols.functions.end()) {
    result.error = "no function symbol at the kernel's address in " + path;
    return result;
  }
  const std::string prefix = local_static_prefix(function->second);
  for (auto it = symbols.local_statics.lower_bound(prefix);
       it != symbols.local_statics.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    result.arrays.push_back(it->second);
    result.bytes += it->second.bytes;
  }
  return result;
}

}  // namespace siren_fused::cuda_emulation
