// Where the backward's work units add their parameter gradients, in an order no thread decides.
//
// Chunks run network by network and a unit is a run of consecutive chunks (chunk_scheduler.h), so a
// unit shares a network with the unit before it only when its first chunk starts inside that
// network. Such a unit adds that network's gradients into a partial of its own; every other network
// a unit touches is its alone, and it adds into the network's gradients directly. Gradients every
// network adds into (a modulated SIREN's shared weights and biases) get a partial in every unit.
// After the region, reduce() adds the partials in unit order. Each gradient is so the same sum, in
// the same order, whichever thread ran which unit; the partials cost one network's parameters a
// unit at most.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "../jet_args.h"
#include "chunk_scheduler.h"

namespace siren_fused::cpu {

class UnitGradients {
 public:
  // modulation_grads: a modulated SIREN's per-network shift and scale gradients ([B, width] each), summed
  // like the per-network parameters'.
  UnitGradients(const JetArgs& args, const JetGrads& grads, const std::vector<Chunk>& chunks, const WorkUnits& units,
                const std::vector<at::Tensor>& modulation_grads = {})
      : args_(args), shared_network_(units.count(), -1), partials_(units.count()) {
    gradients_.insert(gradients_.end(), grads.weights.begin(), grads.weights.end());
    gradients_.insert(gradients_.end(), grads.biases.begin(), grads.biases.end());
    layers_ = static_cast<int64_t>(grads.weights.size());
    gradients_.insert(gradients_.end(), modulation_grads.begin(), modulation_grads.end());
    for (int64_t u = 0; u < units.count(); ++u) {
      const Chunk& first = chunks[units.begin[u]];
      if (first.first != 0) shared_network_[u] = first.network;
      if (first.first == 0 && !args.shared_parameters) continue;
      for (int64_t i = 0; i < static_cast<int64_t>(gradients_.size()); ++i) {
        // zeros_like keeps the storage's strides: a transposed weight gradient's partial is transposed too.
        const bool partial = gradients_[i].defined() && (every_network(i) || shared_network_[u] >= 0);
        partials_[u].push_back(partial ? at::zeros_like(every_network(i) ? gradients_[i] : network(i, first))
                                       : at::Tensor());
      }
    }
  }

  // For a chunk of one network (the reverse-mode gradient's): what unit u adds its share of layer l's weight
  // ([out, in]) and bias ([out]) gradients, and of modulation gradient k ([width]), into; undefined for a
  // gradient not asked for.
  at::Tensor weight(int64_t u, const Chunk& chunk, int64_t l) const { return of_one_network(u, chunk, l); }
  at::Tensor bias(int64_t u, const Chunk& chunk, int64_t l) const { return of_one_network(u, chunk, layers_ + l); }
  at::Tensor modulation(int64_t u, const Chunk& chunk, int64_t k) const {
    return of_one_network(u, chunk, 2 * layers_ + k);
  }

  // Adds the chunk's per-network contributions ([chunk.networks, ...]) to layer l's weight or bias
  // gradient, or to modulation gradient k, for unit u; nothing to a gradient not asked for.
  void add_weight(int64_t u, const Chunk& chunk, int64_t l, const at::Tensor& per_network) const {
    add(u, chunk, l, per_network);
  }
  void add_bias(int64_t u, const Chunk& chunk, int64_t l, const at::Tensor& per_network) const {
    add(u, chunk, layers_ + l, per_network);
  }
  void add_modulation(int64_t u, const Chunk& chunk, int64_t k, const at::Tensor& per_network) const {
    add(u, chunk, 2 * layers_ + k, per_network);
  }
  // Adds gz^T input (gz [chunk.networks, rows, out], input [chunk.networks, rows, in]) to layer l's weight
  // gradient: one GEMM a network, or one over every network's rows where they share the weight.
  void add_weight_product(int64_t u, const Chunk& chunk, int64_t l, const at::Tensor& gz,
                          const at::Tensor& input) const {
    at::Tensor target = of(u, chunk, l);
    if (!target.defined()) return;
    if (every_network(l)) {
      target.addmm_(gz.reshape({-1, gz.size(-1)}).t(), input.reshape({-1, input.size(-1)}));
    } else {
      at::baddbmm_out(target, target, gz.transpose(1, 2), input);
    }
  }

  // Adds the partials into the gradients, in unit order: call once, after the region.
  void reduce() const {
    for (size_t u = 0; u < partials_.size(); ++u) {
      for (size_t i = 0; i < partials_[u].size(); ++i) {
        if (!partials_[u][i].defined()) continue;
        at::Tensor target = every_network(i) ? gradients_[i] : network(i, Chunk{shared_network_[u], 1, 0, 0});
        target += partials_[u][i];
      }
    }
  }

 private:
  // Whether gradient i is one that every network adds into (not split by network).
  bool every_network(int64_t i) const { return args_.shared_parameters && i < 2 * layers_; }
  // Gradient i's chunk.networks networks.
  at::Tensor network(int64_t i, const Chunk& chunk) const {
    return args_.with_networks(gradients_[i]).narrow(0, chunk.network, chunk.networks);
  }
  // What unit u adds the chunk's share of gradient i into (undefined where not asked for).
  at::Tensor of(int64_t u, const Chunk& chunk, int64_t i) const {
    if (!gradients_[i].defined()) return at::Tensor();
    const bool own_partial = every_network(i) || chunk.network == shared_network_[u];
    return own_partial ? partials_[u][i] : network(i, chunk);
  }
  at::Tensor of_one_network(int64_t u, const Chunk& chunk, int64_t i) const {
    const at::Tensor target = of(u, chunk, i);
    return every_network(i) || !target.defined() ? target : target.select(0, 0);
  }
  void add(int64_t u, const Chunk& chunk, int64_t i, const at::Tensor& per_network) const {
    at::Tensor target = of(u, chunk, i);
    if (!target.defined()) return;
    target += every_network(i) ? per_network.sum(0) : per_network;
  }

  const JetArgs& args_;
  std::vector<at::Tensor> gradients_;  // weights, biases, then the modulations'
  int64_t layers_;
  std::vector<int64_t> shared_network_;  // per unit: the network it shares with the unit before, or -1
  std::vector<std::vector<at::Tensor>> partials_;  // per unit, per gradient: its partial, or undefined
};

}  // namespace siren_fused::cpu
