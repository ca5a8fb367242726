package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EngineEnvPolicyTest {
  private final EngineEnvPolicy policy = new EngineEnvPolicy(List.of());

  @ParameterizedTest
  @ValueSource(
      strings = {
        // the reproductions
        "JAVA_TOOL_OPTIONS",
        "LD_PRELOAD",
        "PATH",
        // loaders, interpreters and shells
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PYTHONWARNINGS",
        "JDK_JAVA_OPTIONS",
        "_JAVA_OPTIONS",
        "CLASSPATH",
        "NODE_OPTIONS",
        "PERL5OPT",
        "PERL5LIB",
        "RUBYOPT",
        "BASH_ENV",
        "ENV",
        "IFS",
        // homes, temp dirs, proxies, certificates
        "HOME",
        "TMPDIR",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        // the platform's own and what it assigns
        "GANTRY_SECRETS_KEY",
        "SPRING_DATASOURCE_PASSWORD",
        "CUDA_VISIBLE_DEVICES",
        "OLLAMA_HOST",
        "OLLAMA_MODELS",
        // engine variables that load code, name paths or open the server
        "VLLM_PLUGINS",
        "VLLM_CONFIG_ROOT",
        "VLLM_CACHE_ROOT",
        "VLLM_NCCL_SO_PATH",
        "VLLM_LOGGING_CONFIG_PATH",
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING",
        "VLLM_ALLOW_INSECURE_SERIALIZATION",
        "VLLM_SERVER_DEV_MODE",
        "VLLM_API_KEY",
        "VLLM_USE_MODELSCOPE",
        "SGLANG_TORCH_PROFILER_DIR",
        "OLLAMA_ORIGINS",
        "OLLAMA_LLM_LIBRARY",
        "NCCL_NET_PLUGIN",
        "NCCL_DEBUG_FILE",
        "HF_HOME",
        "HF_TOKEN_PATH",
        "TRANSFORMERS_CACHE",
        "SOMETHING_UNKNOWN"
      })
  void refusesWhatCouldRunCodeReadFilesOrIsUnknown(String name) {
    assertThat(policy.allows(name)).isFalse();
    assertThat(policy.refusal(name)).isPresent();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "HF_TOKEN",
        "HF_ENDPOINT",
        "TOKENIZERS_PARALLELISM",
        "OMP_NUM_THREADS",
        "PYTORCH_CUDA_ALLOC_CONF",
        "NCCL_DEBUG",
        "VLLM_ATTENTION_BACKEND",
        "OLLAMA_KEEP_ALIVE"
      })
  void allowsWhatEnginesAndTheHubNeed(String name) {
    assertThat(policy.allows(name)).isTrue();
    assertThat(policy.refusal(name)).isEmpty();
  }

  @Test
  void noBuiltInNameIsOfAForbiddenShape() {
    assertThat(EngineEnvPolicy.ALLOWED).noneMatch(EngineEnvPolicy::isForbidden);
  }

  @Test
  void theRefusalNamesTheVariableAndItsKind() {
    assertThat(policy.refusal("LD_PRELOAD").orElseThrow())
        .startsWith("cannot be set: engines never receive it");
    assertThat(policy.refusal("MY_SETTING").orElseThrow())
        .contains("gantry.runtime.local.containment.extra-env");
  }

  @Test
  void anOperatorCanAllowMoreButNeverAForbiddenName() {
    assertThat(new EngineEnvPolicy(List.of("MY_SETTING")).allows("MY_SETTING")).isTrue();
    for (String name : List.of("LD_PRELOAD", "PYTHONPATH", "MY_MODEL_PATH", "X_PLUGINS", "lower")) {
      assertThatThrownBy(() -> new EngineEnvPolicy(List.of(name)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(name);
    }
  }
}
