package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class MetricsTest {

  private static final Pattern SAMPLE =
      Pattern.compile(
          "^[a-zA-Z_:][a-zA-Z0-9_:]*\\{([a-z_]+=\"(?:[^\"\\\\]|\\\\.)*\",?)+\\} -?[0-9.]+$");

  @Test
  void exposesVllmNamedMetricsInPrometheusTextFormat() {
    try (SimServer server = SimServer.start(SimConfig.defaults("org/model \"x\""))) {
      HttpResponse<String> response = new TestHttp(server).get("/metrics");

      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("content-type").orElseThrow())
          .startsWith("text/plain; version=0.0.4");
      String text = response.body();
      for (String[] metric :
          List.of(
              new String[] {"vllm:num_requests_running", "gauge"},
              new String[] {"vllm:num_requests_waiting", "gauge"},
              new String[] {"vllm:generation_tokens_total", "counter"},
              new String[] {"vllm:prompt_tokens_total", "counter"},
              new String[] {"vllm:request_success_total", "counter"},
              new String[] {"gantry_sim:requests_aborted_total", "counter"},
              new String[] {"gantry_sim:max_running", "gauge"})) {
        assertThat(text).contains("# HELP " + metric[0] + " ");
        assertThat(text).contains("# TYPE " + metric[0] + " " + metric[1] + "\n");
      }
      for (String line : text.split("\n")) {
        if (!line.startsWith("#")) {
          assertThat(line).matches(SAMPLE);
          assertThat(line).contains("model_name=\"org/model \\\"x\\\"\"");
        }
      }
      assertThat(text)
          .contains("vllm:request_success_total{finished_reason=\"length\",model_name=");
      assertThat(text).endsWith("\n");
      assertThat(text).isEqualTo(server.metricsText());
    }
  }
}
