// examples/est_train/presets.hpp: every preset in the tables is reachable by its name, with its
// own configuration (adding a preset once made the last GPT-2 preset unreachable).

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>

#include "est_train/presets.hpp"

TEST_CASE("with_preset reaches every preset with its own configuration", "[est-train]") {
  int checked = 0;
  auto check = [&](const auto& table) {
    for (const auto& preset : table) {
      const std::string json = est_train::with_preset(preset.name, []<auto Config>() {
        return est::family_t<std::remove_cvref_t<decltype(Config)>>::config_json(Config).dump();
      });
      CHECK(json == est::family_t<std::remove_cvref_t<decltype(preset.config)>>::config_json(preset.config).dump());
      ++checked;
    }
  };
  check(est_train::gpt2_presets);
  check(est_train::llama_presets);
  CHECK(checked == int(est_train::preset_names().size()));
  CHECK_THROWS_WITH(est_train::with_preset("no-such-preset", []<auto Config>() { return 0; }),
                    Catch::Matchers::Contains("unknown preset 'no-such-preset'"));
}
