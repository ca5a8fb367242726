package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;

class GatewayRoleTest {

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnGatewayRole
  static class GatewayOnly {}

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner().withUserConfiguration(GatewayOnly.class);

  @Test
  void gatewayBeansExistByDefaultAndWithTheGatewayRole() {
    runner.run(ctx -> assertThat(ctx).hasSingleBean(GatewayOnly.class));
    runner
        .withPropertyValues("gantry.roles=Orchestrator,Gateway")
        .run(ctx -> assertThat(ctx).hasSingleBean(GatewayOnly.class));
  }

  @Test
  void anOrchestratorOnlyProcessHasNoGatewayBeans() {
    runner
        .withPropertyValues("gantry.roles=orchestrator")
        .run(ctx -> assertThat(ctx).doesNotHaveBean(GatewayOnly.class));
  }
}
