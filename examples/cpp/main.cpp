// Runs a TorchScript module and an AOTInductor package whose graphs call
// the extension's ops, in a process without Python. Linking <name>::ops is all
// it takes for the ops to be registered (see cmake/PackageConfig.cmake.in).
//
//   deploy MODEL.pt MODEL.pt2 INPUTS.pt OUTDIR [cpu|cuda]
//
// INPUTS.pt: torch.save({"pos": Tensor[N, 3], "batch": Tensor[N]}).
// Writes OUTDIR/torchscript.pt and OUTDIR/aoti.pt (torch.load-able edge
// tensors) and prints one summary line per model.
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_tensor(const at::Tensor& t, const std::string& path) {
  const std::vector<char> bytes = torch::pickle_save(t.cpu());
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// The proof that no interpreter is involved: is any libpython mapped?
bool python_mapped() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("libpython") != std::string::npos) return true;
  }
  return false;
}

void report(const std::string& name, const at::Tensor& edges) {
  std::cout << name << ": edges " << edges.size(1) << " on " << edges.device() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: " << argv[0] << " MODEL.pt MODEL.pt2 INPUTS.pt OUTDIR [cpu|cuda]\n";
    return 2;
  }
  const std::string outdir = argv[4];
  const torch::Device device(argc > 5 ? argv[5] : "cpu");
  try {
    const auto inputs = torch::pickle_load(read_file(argv[3])).toGenericDict();
    const at::Tensor pos = inputs.at("pos").toTensor().to(device);
    const at::Tensor batch = inputs.at("batch").toTensor().to(device);

    torch::jit::Module scripted = torch::jit::load(argv[1], device);
    const at::Tensor ts = scripted.forward({pos, batch}).toTensor();
    report("torchscript", ts);
    write_tensor(ts, outdir + "/torchscript.pt");

    torch::inductor::AOTIModelPackageLoader package(argv[2]);
    const std::vector<at::Tensor> aoti = package.run({pos, batch});
    report("aoti", aoti.at(0));
    write_tensor(aoti.at(0), outdir + "/aoti.pt");
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout << "libpython mapped: " << (python_mapped() ? "yes" : "no") << "\n";
  return 0;
}
