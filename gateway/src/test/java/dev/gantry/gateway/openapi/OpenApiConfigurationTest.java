package dev.gantry.gateway.openapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import dev.gantry.infra.config.GantryProperties;
import org.junit.jupiter.api.Test;
import org.springdoc.core.properties.SpringDocConfigProperties;
import org.springframework.beans.factory.support.StaticListableBeanFactory;

/** The document's server is the URL users reach the gateway on, when one is configured. */
class OpenApiConfigurationTest {
  final GantryProperties properties = mock(GantryProperties.class);

  io.swagger.v3.oas.models.OpenAPI document() {
    var noSpringDocSettings =
        new StaticListableBeanFactory().getBeanProvider(SpringDocConfigProperties.class);
    return new OpenApiConfiguration().gantryOpenApi(noSpringDocSettings, properties);
  }

  @Test
  void theConfiguredPublicUrlIsTheServer() {
    when(properties.publicUrl()).thenReturn("https://gantry.example.com/");
    assertThat(document().getServers())
        .singleElement()
        .satisfies(server -> assertThat(server.getUrl()).isEqualTo("https://gantry.example.com"));
  }

  @Test
  void withoutOneTheServerComesFromTheRequest() {
    when(properties.publicUrl()).thenReturn(null);
    // springdoc then writes the URL the document was requested on.
    assertThat(document().getServers()).isNull();
  }
}
