package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

  @Test
  void parsesObjectsArraysAndScalars() {
    Object value =
        Json.parse(
            " {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\\\"y\\u00e9\\n\"},"
                + " \"d\": []} ");

    assertThat(value)
        .isEqualTo(
            Map.of(
                "a",
                Arrays.asList(1.0, -25.0, true, false, null),
                "b",
                Map.of("c", "x\"yé\n"),
                "d",
                List.of()));
  }

  @Test
  void rejectsWhatIsNotJson() {
    for (String bad : List.of("", "{", "{\"a\" 1}", "[1,]", "{\"a\":1} x", "tru", "\"abc")) {
      assertThatThrownBy(() -> Json.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> Json.parseObject("[1]")).hasMessageContaining("not a JSON object");
  }

  @Test
  void quotesStrings() {
    assertThat(Json.quote("a\"b\\c\nd\u0001")).isEqualTo("\"a\\\"b\\\\c\\nd\\u0001\"");
    assertThat(Json.parse(Json.quote("a\"b\\c\nd\u0001"))).isEqualTo("a\"b\\c\nd\u0001");
  }
}
