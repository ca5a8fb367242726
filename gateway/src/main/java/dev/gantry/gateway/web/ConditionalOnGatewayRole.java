package dev.gantry.gateway.web;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;

/**
 * The bean exists only when this process plays the gateway role ({@code gantry.roles}), so an
 * orchestrator-only process serves health endpoints but no API.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@ConditionalOnExpression("'${gantry.roles:gateway,orchestrator}'.toLowerCase().contains('gateway')")
public @interface ConditionalOnGatewayRole {}
