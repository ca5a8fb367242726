package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.Framework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class FrameworkArgPolicyTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        // argparse treats '_' as '-' (vLLM) and accepts unique prefixes
        "--trust_remote_code",
        "--trust-remote",
        "--trust-remote-cod",
        "--hos=0.0.0.0",
        "--ho=0.0.0.0",
        "--po=80",
        "--served-model=x",
        "--host=0.0.0.0",
        "--port=80",
        "--model=/etc",
        // flags that read or write host files, or load code
        "--chat-template=/etc/shadow",
        "--download-dir=/root",
        "--ssl-keyfile=/etc/ssl/private/key.pem",
        "--ssl-certfile=/x",
        "--config=/etc/passwd",
        "--tokenizer=/root",
        "--lora-modules=a=/root",
        "--allowed-local-media-path=/",
        "--tool-parser-plugin=/tmp/x.py",
        "--api-key=abc",
        "--load-format=tensorizer",
        "--generation-config=/etc",
        // values of the wrong type, or a value smuggled onto a switch
        "--max-model-len=8k8",
        "--max-model-len=",
        "--max-model-len",
        "--gpu-memory-utilization=2",
        "--enforce-eager=/etc/passwd",
        "--tool-call-parser=../../x",
        "--dtype=evil",
        // the token's shape
        "-x",
        "--a b",
        "--a=$(reboot)",
        "--a=\u0007"
      })
  void vllmRefusesBypassesForTenants(String arg) {
    assertThat(FrameworkArgPolicy.refusal(Framework.VLLM, arg, false)).isPresent();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--trust_remote_code",
        "--trust-remote",
        "--hos=0.0.0.0",
        "--chat-template=/etc/shadow",
        "--download-dir=/root"
      })
  void adminKeysCannotTalkAroundTheListEither(String arg) {
    assertThat(FrameworkArgPolicy.refusal(Framework.VLLM, arg, true)).isPresent();
  }

  @Test
  void trustRemoteCodeIsForAdminsOnly() {
    for (Framework engine : new Framework[] {Framework.VLLM, Framework.SGLANG}) {
      assertThat(FrameworkArgPolicy.refusal(engine, "--trust-remote-code", false))
          .contains("--trust-remote-code requires an admin API key");
      assertThat(FrameworkArgPolicy.refusal(engine, "--trust-remote-code", true)).isEmpty();
    }
    assertThat(FrameworkArgPolicy.refusal(Framework.VLLM, "--trust_remote_code", false))
        .contains("--trust-remote-code requires an admin API key");
    assertThat(FrameworkArgPolicy.refusal(Framework.VLLM, "--trust_remote_code", true))
        .hasValueSatisfying(m -> assertThat(m).contains("must be spelled --trust-remote-code"));
  }

  @ParameterizedTest
  @CsvSource({
    "VLLM, --max-model-len=8192",
    "VLLM, --enforce-eager",
    "VLLM, --gpu-memory-utilization=0.85",
    "VLLM, --dtype=bfloat16",
    "VLLM, --tool-call-parser=llama3_json",
    "VLLM, --enable-auto-tool-choice",
    "SGLANG, --mem-fraction-static=0.8",
    "SGLANG, --context-length=4096",
    "SGLANG, --disable-radix-cache",
    "SIM, --ttft-ms=20",
    "SIM, --inter-token-ms=5",
    "SIM, --startup-seconds=0.5",
    "SIM, --fail-after-requests=3",
    "SIM, --prefill-ms-per-1k-tokens=80",
    "SIM, --decode-slowdown=2.5"
  })
  void acceptsKnownFlagsWithTypedValues(Framework framework, String arg) {
    assertThat(FrameworkArgPolicy.refusal(framework, arg, false)).isEmpty();
  }

  @Test
  void eachEngineHasItsOwnList() {
    assertThat(FrameworkArgPolicy.refusal(Framework.SIM, "--max-model-len=2048", false))
        .isPresent();
    assertThat(FrameworkArgPolicy.refusal(Framework.VLLM, "--ttft-ms=1", false)).isPresent();
    assertThat(FrameworkArgPolicy.refusal(Framework.OLLAMA, "--verbose", false))
        .contains("ollama takes no framework_args");
    assertThat(FrameworkArgPolicy.refusal(Framework.SIM, "--ttft-ms", false))
        .contains("--ttft-ms needs a value: --ttft-ms=<value>");
  }

  @Test
  void simThroughputFlagsHaveTheSimulatorsBounds() {
    assertThat(
            FrameworkArgPolicy.refusal(Framework.SIM, "--prefill-ms-per-1k-tokens=3600001", false))
        .isPresent();
    assertThat(FrameworkArgPolicy.refusal(Framework.SIM, "--prefill-ms-per-1k-tokens=0.5", false))
        .isPresent();
    assertThat(FrameworkArgPolicy.refusal(Framework.SIM, "--decode-slowdown=1001", false))
        .isPresent();
    assertThat(FrameworkArgPolicy.refusal(Framework.SIM, "--decode-slowdown=-1", false))
        .isPresent();
  }

  @Test
  void withoutAFrameworkOnlyTheUniversalRulesApply() {
    assertThat(FrameworkArgPolicy.refusal(null, "--anything=1", false)).isEmpty();
    assertThat(FrameworkArgPolicy.refusal(null, "--hos=x", false)).isPresent();
    assertThat(FrameworkArgPolicy.refusal(null, "--trust-remote-code", false)).isPresent();
  }
}
