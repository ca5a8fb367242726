package dev.gantry.gateway;

import dev.gantry.gateway.deployment.TemporalDeploymentOrchestrator;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;

/**
 * A test application of the gateway and infra beans without Temporal: the application that carries
 * it imports its own stand-in for the orchestrator.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
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
public @interface GatewayTestBeans {}
