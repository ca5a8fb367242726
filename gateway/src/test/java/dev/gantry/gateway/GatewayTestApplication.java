package dev.gantry.gateway;

import dev.gantry.gateway.deployment.TemporalDeploymentOrchestrator;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;

/** The gateway and infra beans, with a fake orchestrator in place of Temporal. */
@SpringBootConfiguration
@EnableAutoConfiguration
@ComponentScan(
    basePackages = "dev.gantry",
    excludeFilters = {
      @ComponentScan.Filter(
          type = FilterType.ASSIGNABLE_TYPE,
          classes = TemporalDeploymentOrchestrator.class),
      // Each test application brings its own orchestrator; never the other's.
      @ComponentScan.Filter(
          type = FilterType.REGEX,
          pattern = "dev\\.gantry\\.gateway\\..*(TestApplication|Test\\$App)"),
      // Async jobs need Temporal; the app module's end-to-end tests cover them.
      @ComponentScan.Filter(type = FilterType.REGEX, pattern = "dev\\.gantry\\.gateway\\.jobs\\..*")
    })
@Import(FakeOrchestrator.class)
class GatewayTestApplication {}
