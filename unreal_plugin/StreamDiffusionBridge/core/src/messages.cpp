// Helpers of messages.h and status.h that need no flatbuffers and no ZeroMQ.
#include "sdbridge/messages.h"
#include "sdbridge/status.h"

#include <iterator>
#include <type_traits>

namespace sdbridge {

namespace {
template <typename T>
void TakeIfSet(std::optional<T>& mine, const std::optional<T>& newer) {
  if (newer.has_value()) mine = newer;
}
// Named weights that leave the names not sent unchanged (lora_weights, controlnet_*): a newer weight replaces the
// one of its name, new names are added, so a replay after a reconnect sets every weight the session had.
void MergeNamed(std::optional<std::vector<AdapterWeight>>& mine, const std::optional<std::vector<AdapterWeight>>& newer) {
  if (!newer) return;
  if (!mine) {
    mine = newer;
    return;
  }
  for (const AdapterWeight& w : *newer) {
    bool found = false;
    for (AdapterWeight& m : *mine) {
      if (m.name == w.name) {
        m.weight = w.weight;
        found = true;
      }
    }
    if (!found) mine->push_back(w);
  }
}
}  // namespace

uint32_t Params::SetMask() const {
  uint32_t mask = 0;
  if (guidance_scale) mask |= params_field::kGuidanceScale;
  if (delta) mask |= params_field::kDelta;
  if (t_index_list) mask |= params_field::kTIndexList;
  if (seed) mask |= params_field::kSeed;
  if (similarity_filter_enabled) mask |= params_field::kSimilarityFilterEnabled;
  if (similarity_threshold) mask |= params_field::kSimilarityThreshold;
  if (similarity_max_skip) mask |= params_field::kSimilarityMaxSkip;
  if (seed_blend) mask |= params_field::kSeedBlend;
  if (cfg_mode) mask |= params_field::kCfgMode;
  if (txt2img) mask |= params_field::kTxt2img;
  if (lora_weights) mask |= params_field::kLoraWeights;
  if (controlnet_scale) mask |= params_field::kControlnetScale;
  if (controlnet_start) mask |= params_field::kControlnetStart;
  if (controlnet_end) mask |= params_field::kControlnetEnd;
  if (latent_feedback) mask |= params_field::kLatentFeedback;
  if (motion_warp) mask |= params_field::kMotionWarp;
  if (motion_warp_step) mask |= params_field::kMotionWarpStep;
  if (scene_cut_threshold) mask |= params_field::kSceneCutThreshold;
  if (ip_adapter_scale) mask |= params_field::kIpAdapterScale;
  if (style_blend) mask |= params_field::kStyleBlend;
  if (attention_bank) mask |= params_field::kAttentionBank;
  if (attention_bank_interval) mask |= params_field::kAttentionBankInterval;
  if (attention_bank_blocks) mask |= params_field::kAttentionBankBlocks;
  if (feature_injection) mask |= params_field::kFeatureInjection;
  if (feature_injection_threshold) mask |= params_field::kFeatureInjectionThreshold;
  return mask;
}

void Params::MergeFrom(const Params& newer) {
  TakeIfSet(guidance_scale, newer.guidance_scale);
  TakeIfSet(delta, newer.delta);
  TakeIfSet(t_index_list, newer.t_index_list);
  TakeIfSet(seed, newer.seed);
  TakeIfSet(similarity_filter_enabled, newer.similarity_filter_enabled);
  TakeIfSet(similarity_threshold, newer.similarity_threshold);
  TakeIfSet(similarity_max_skip, newer.similarity_max_skip);
  TakeIfSet(seed_blend, newer.seed_blend);
  TakeIfSet(cfg_mode, newer.cfg_mode);
  TakeIfSet(txt2img, newer.txt2img);
  MergeNamed(lora_weights, newer.lora_weights);
  MergeNamed(controlnet_scale, newer.controlnet_scale);
  MergeNamed(controlnet_start, newer.controlnet_start);
  MergeNamed(controlnet_end, newer.controlnet_end);
  TakeIfSet(latent_feedback, newer.latent_feedback);
  TakeIfSet(motion_warp, newer.motion_warp);
  TakeIfSet(motion_warp_step, newer.motion_warp_step);
  TakeIfSet(scene_cut_threshold, newer.scene_cut_threshold);
  TakeIfSet(ip_adapter_scale, newer.ip_adapter_scale);
  TakeIfSet(style_blend, newer.style_blend);
  TakeIfSet(attention_bank, newer.attention_bank);
  TakeIfSet(attention_bank_interval, newer.attention_bank_interval);
  TakeIfSet(attention_bank_blocks, newer.attention_bank_blocks);
  TakeIfSet(feature_injection, newer.feature_injection);
  TakeIfSet(feature_injection_threshold, newer.feature_injection_threshold);
  stream_id = newer.stream_id;
}

const char* MessageName(const Message& message) {
  static constexpr const char* kNames[] = {"Hello",  "Welcome",      "Error",  "Frame", "Result", "Prompt",
                                           "Params", "GameEvent",    "State",  "StatsRequest",
                                           "Stats",  "Bye",          "Notice", "Credit", "Ping",  "Pong",
                                           "StyleImage"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>, "one name per message type");
  return kNames[message.index()];
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "Ok";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotConnected: return "NotConnected";
    case StatusCode::kQueueFull: return "QueueFull";
    case StatusCode::kMalformed: return "Malformed";
    case StatusCode::kVersionMismatch: return "VersionMismatch";
    case StatusCode::kRefused: return "Refused";
    case StatusCode::kTimeout: return "Timeout";
    case StatusCode::kStopped: return "Stopped";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

}  // namespace sdbridge
