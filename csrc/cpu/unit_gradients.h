// Where the backward's work units add their parameter gradients, in an order no thread decides.
//
// Chunks run network by network and a unit is a run of consecutive chunks (chunk_scheduler.h), so a
// unit shares a network with the unit before it only when its first chunk starts inside that
// network. Such a unit adds that network's gradients into a partial of its own; every other network
// a unit touches is its alone, and it adds into the network's gradients directly. After the region,
// reduce() adds the partials in unit order. Each gradient is so the same sum, in the same order,
// whichever thread ran which unit; the partials cost one network's parameters a unit at most.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "../jet_args.h"
#include "chunk_scheduler.h"

namespace siren_fused::cpu {

class UnitGradients {
 public:
  UnitGradients(const JetArgs& args, const JetGrads& grads, const std::vector<Chunk>& chunks, const WorkUnits& units)
      : args_(args), grads_(grads), shared_network_(units.count(), -1), partials_(units.count()) {
    for (int64_t u = 0; u < units.count(); ++u) {
      const Chunk& first = chunks[units.begin[u]];
      if (first.first == 0) continue;
      shared_network_[u] = first.network;
      // zeros_like keeps the storage's strides: a transposed weight gradient's partial is transposed too.
      for (const at::Tensor& w : grads.weights) partials_[u].weights.push_back(at::zeros_like(network(w, first)));
      for (const at::Tensor& b : grads.biases) partials_[u].biases.push_back(at::zeros_like(network(b, first)));
    }
  }

  // Layer l's weight ([chunk.networks, out, in]) and bias ([chunk.networks, out]) gradients that unit u adds
  // chunk's share into.
  at::Tensor weight(int64_t u, const Chunk& chunk, int64_t l) const {
    return shared(u, chunk) ? partials_[u].weights[l] : network(grads_.weights[l], chunk);
  }
  at::Tensor bias(int64_t u, const Chunk& chunk, int64_t l) const {
    return shared(u, chunk) ? partials_[u].biases[l] : network(grads_.biases[l], chunk);
  }

  // Adds the partials into the gradients, in unit order: call once, after the region.
  void reduce() const {
    for (size_t u = 0; u < partials_.size(); ++u) {
      if (shared_network_[u] < 0) continue;
      const Chunk whole{shared_network_[u], 1, 0, 0};
      for (size_t l = 0; l < grads_.weights.size(); ++l) {
        network(grads_.weights[l], whole) += partials_[u].weights[l];
        network(grads_.biases[l], whole) += partials_[u].biases[l];
      }
    }
  }

 private:
  struct Partial {
    std::vector<at::Tensor> weights;
    std::vector<at::Tensor> biases;
  };

  bool shared(int64_t u, const Chunk& chunk) const { return chunk.network == shared_network_[u]; }
  at::Tensor network(const at::Tensor& gradient, const Chunk& chunk) const {
    return args_.with_networks(gradient).narrow(0, chunk.network, chunk.networks);
  }

  const JetArgs& args_;
  const JetGrads& grads_;
  std::vector<int64_t> shared_network_;  // per unit: the network it shares with the unit before, or -1
  std::vector<Partial> partials_;
};

}  // namespace siren_fused::cpu
