#pragma once
// Sampling policies: given the model's shape, the rates of the growth schedule and the step,
// choose the subnetwork that trains at that step. The concept and the draws policies are made
// of are in sampling/policy.hpp; est provides
//   sampling::Full        the full model at every step (the baseline)
//   sampling::Uniform     the paper's: layers, heads and neurons drawn uniformly
//   sampling::Importance  heads and neurons drawn by their running gradient magnitude, scaled by
//                         1/π (Horvitz–Thompson) so every layer stays unbiased
// A policy of your own is a small struct satisfying est::SamplingPolicy (or
// est::ObservingSamplingPolicy, to learn from the gradients).

#include "est/subnet/sampling/full.hpp"
#include "est/subnet/sampling/importance.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/sampling/uniform.hpp"
